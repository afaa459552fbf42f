from tests.factories import PASSWORD, make_admin, make_patient, make_practitioner


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_patient_signs_in_and_sees_home(client, auth):
    patient = make_patient(name="Ruth Example")
    response = auth.login(patient)
    assert response.status_code == 303
    assert response.location.endswith("/me/")
    page = client.get("/me/")
    assert page.status_code == 200
    assert "Ruth Example" in page.get_data(as_text=True)


def test_staff_sign_in_needs_totp(client, auth):
    doctor = make_practitioner()
    response = client.post("/auth/login", data={"email": doctor.email,
                                                "password": PASSWORD})
    assert response.status_code == 303 and response.location.endswith("/auth/mfa")
    assert client.get("/clinic/").status_code in (302, 303)
    response = auth.login(doctor)
    assert response.location.endswith("/clinic/")
    assert client.get("/clinic/").status_code == 200


def test_admin_home(client, auth):
    admin = make_admin()
    auth.login(admin)
    assert client.get("/admin/").status_code == 200
