from datetime import timedelta

from conftest import PASSWORD, WebUser, csrf_from


def test_it_rejects_a_form_without_its_csrf_token(web, db):
    nina = web("nurse_nina")
    r = nina.client.post("/participants/new", data={"subject_id": "S01-005", "site": "S01"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM participants").fetchone()[0] == 0


def test_it_rejects_a_session_authenticated_api_write_without_csrf(web):
    nina = web("nurse_nina")
    r = nina.client.post("/api/v1/participants", json={"subject_id": "S01-005"})
    assert r.status_code == 400 and r.json["error"]["code"] == "csrf"


def test_it_audits_sign_ins_and_failed_sign_ins(app, people, db):
    user = WebUser(app.test_client(), people["nurse_nina"]["email"])
    assert user.sign_in("wrong password").status_code == 401
    assert user.sign_in().status_code == 302
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor = ? ORDER BY id",
                                        [people["nurse_nina"]["email"]])]
    assert actions[-2:] == ["sign_in_failed", "sign_in"]


def test_it_pauses_sign_in_after_repeated_failures(app, people, db, clock):
    user = WebUser(app.test_client(), people["nurse_nina"]["email"])
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        assert user.sign_in("wrong password").status_code == 401
    paused = user.sign_in()  # the right password no longer works from here while paused
    assert paused.status_code == 401
    clock.advance(minutes=app.config["LOCKOUT_MINUTES"] + 1)
    assert user.sign_in().status_code == 302
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'sign_in_refused'").fetchone()[0] == 1


def test_it_signs_out_after_the_idle_timeout(web, clock, app):
    nina = web("nurse_nina")
    assert nina.get("/participants").status_code == 200
    clock.advance(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 1))
    assert nina.get("/participants").status_code == 200  # activity renews the session
    clock.advance(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    r = nina.get("/participants")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_it_does_not_redirect_off_site_after_sign_in(app, people):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login?next=//evil.example/x", data={"email": people["nurse_nina"]["email"],
                                                            "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_it_stores_only_argon2_hashes_and_token_hashes(db, people, api):
    api("safety_sam")
    hashes = [r[0] for r in db.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2") for h in hashes)
    assert PASSWORD not in " ".join(hashes)
    stored = db.execute("SELECT token_hash, prefix FROM api_tokens").fetchone()
    assert len(stored[0]) == 64 and stored[1].startswith("sst_")
