def test_it_lets_an_admin_add_and_deactivate_an_account_audited(web, db, people):
    alex = web("admin_alex")
    r = alex.post_form("/admin/users", {"email": "new.nurse@example.org", "role": "nurse", "site": "S02",
                                        "password": "a long enough password"}, from_page="/admin/users")
    assert r.status_code == 302
    uid = db.execute("SELECT id FROM users WHERE email = 'new.nurse@example.org'").fetchone()[0]
    r = alex.post_form(f"/admin/users/{uid}/active", {"active": "0", "reason": "left the study team"})
    assert r.status_code == 302
    assert db.execute("SELECT active FROM users WHERE id = ?", [uid]).fetchone()[0] == 0
    entry = db.execute("SELECT action, reason FROM audit_log WHERE entity = 'user' AND entity_id = ? ORDER BY id DESC",
                       [str(uid)]).fetchone()
    assert entry == ("deactivate", "left the study team")


def test_it_names_the_bad_field_and_never_echoes_the_password(web, db):
    alex = web("admin_alex")
    r = alex.post_form("/admin/users", {"email": "n2@example.org", "role": "nurse", "password": "secret-enough-1"},
                       from_page="/admin/users")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'data-field="site"' in html and "secret-enough-1" not in html
    assert db.execute("SELECT count(*) FROM users WHERE email = 'n2@example.org'").fetchone()[0] == 0


def test_it_refuses_deactivation_without_a_reason(web, db, people):
    alex = web("admin_alex")
    uid = people["nurse_noah"]["id"]
    alex.post_form(f"/admin/users/{uid}/active", {"active": "0", "reason": " "})
    assert db.execute("SELECT active FROM users WHERE id = ?", [uid]).fetchone()[0] == 1


def test_it_keeps_account_pages_from_other_roles(web):
    for persona in ("nurse_nina", "safety_sam", "auditor_ada"):
        assert web(persona).get("/admin/users").status_code == 403


# --- unlock, temporary password, role, tokens (issue 15, finding 10) ---------------------------------------------

from conftest import NOW, PASSWORD, WebUser  # noqa: E402
from safety_service.domain import users  # noqa: E402


def _audited(db, uid, action):
    return db.execute("SELECT field, old_value, new_value, reason, actor FROM audit_log WHERE entity = 'user' "
                      "AND entity_id = ? AND action = ? ORDER BY id", [str(uid), action]).fetchall()


def test_it_lets_an_admin_unlock_an_account_and_every_sign_in_pause_with_a_reason(app, web, db, people):
    nina = people["nurse_nina"]
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        users.verify_signature(db, nina["id"], "guess-guess-guess", now=NOW)   # the account lock
        users.authenticate(db, nina["email"], "guess-guess-guess", now=NOW, client="10.1.1.20")  # a pause
    assert users.authenticate(db, nina["email"], PASSWORD, now=NOW, client="10.1.1.21")[0] is None
    alex = web("admin_alex")
    page = alex.get(f"/admin/users/{nina['id']}").get_data(as_text=True)
    assert "locked until" in page and "10.1.1.20" in page
    alex.post_form(f"/admin/users/{nina['id']}/unlock", {"reason": " "})
    assert users.get(db, nina["id"])["locked_until"]  # no reason, no unlock
    r = alex.post_form(f"/admin/users/{nina['id']}/unlock", {"reason": "called the help desk, identity checked"})
    assert r.status_code == 302
    assert users.authenticate(db, nina["email"], PASSWORD, now=NOW, client="10.1.1.20")[0] is not None
    entries = _audited(db, nina["id"], "unlock")
    assert {e[0] for e in entries} == {"locked_until", "sign_in_pauses"}
    assert entries[0][3] == "called the help desk, identity checked" and entries[0][4] == "admin_alex@example.org"


def test_it_sets_a_temporary_password_that_must_be_changed_at_the_next_sign_in(app, web, db, people):
    noah_before = web("nurse_noah")
    alex = web("admin_alex")
    uid = people["nurse_noah"]["id"]
    refused = alex.post_form(f"/admin/users/{uid}/password", {"password": "password1", "reason": "forgot it"})
    assert refused.status_code == 302 and users.get(db, uid)["must_change_password"] == 0
    alex.post_form(f"/admin/users/{uid}/password", {"password": "blue kettle on the stove", "reason": "forgot it"})
    assert users.get(db, uid)["must_change_password"] == 1
    assert _audited(db, uid, "password_reset")[0][3] == "forgot it"
    r = noah_before.get("/participants")
    assert r.status_code == 302 and "/login" in r.headers["Location"]  # the sessions ended at the reset
    noah = WebUser(app.test_client(), people["nurse_noah"]["email"])
    r = noah.sign_in("blue kettle on the stove")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
    r = noah.get("/participants")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")  # nothing else first
    form = {"current": "blue kettle on the stove", "password": "nurse_noah@example.org",
            "confirm": "nurse_noah@example.org"}
    r = noah.post_form("/account/password", form, from_page="/account/password")
    assert r.status_code == 422 and "e-mail" in r.get_data(as_text=True)
    form.update(password="my own long passphrase", confirm="my own long passphrase")
    assert noah.post_form("/account/password", form, from_page="/account/password").status_code == 302
    assert noah.get("/participants").status_code == 200
    assert users.get(db, uid)["must_change_password"] == 0


def test_it_changes_a_role_with_a_reason_and_refuses_an_admins_own(app, web, db, people):
    alex = web("admin_alex")
    uid = people["nurse_noah"]["id"]
    alex.post_form(f"/admin/users/{uid}/role", {"role": "investigator", "site": "", "reason": "promoted"})
    assert users.get(db, uid)["role"] == "nurse"  # an investigator needs a site
    alex.post_form(f"/admin/users/{uid}/role", {"role": "investigator", "site": "S02", "reason": "promoted"})
    assert (users.get(db, uid)["role"], users.get(db, uid)["site"]) == ("investigator", "S02")
    assert _audited(db, uid, "role_change")[0][:4] == ("role", "nurse", "investigator", "promoted")
    own = people["admin_alex"]["id"]
    alex.post_form(f"/admin/users/{own}/role", {"role": "auditor", "reason": "oops"})
    assert users.get(db, own)["role"] == "admin"


def test_it_shows_a_users_tokens_and_revokes_one_there(app, web, api, db, people):
    sam = api("safety_sam")
    assert sam.get("/api/v1/alerts").status_code == 200
    alex = web("admin_alex")
    uid = people["safety_sam"]["id"]
    page = alex.get(f"/admin/users/{uid}").get_data(as_text=True)
    token = users.tokens_of(db, uid, now=NOW)[0]
    assert token["prefix"] in page and "2026-09-13" in page and "active" in page  # 90 days after 15 June
    r = alex.post_form(f"/admin/users/{uid}/tokens/{token['id']}/revoke", {"reason": "laptop lost"})
    assert r.status_code == 302
    assert sam.get("/api/v1/alerts").status_code == 401
    assert "revoked" in alex.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert db.execute("SELECT reason FROM audit_log WHERE action = 'token_revoke'").fetchone()[0] == "laptop lost"


def test_it_revokes_only_a_token_of_the_account_named_in_the_url(web, api, db, people):
    api("safety_sam")
    token = users.tokens_of(db, people["safety_sam"]["id"], now=NOW)[0]
    r = web("admin_alex").post_form(f"/admin/users/{people['nurse_nina']['id']}/tokens/{token['id']}/revoke",
                                    {"reason": "x"})
    assert r.status_code == 404 and users.tokens_of(db, people["safety_sam"]["id"], now=NOW)[0]["state"] == "active"
