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
