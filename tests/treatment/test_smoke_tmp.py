from tests.treatment.helpers import record, rate, history, form_data


def test_pages(app, doctor_client, patient_client, patient, doctor):
    s = record(patient, doctor)
    r = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/sessions")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = patient_client.get("/me/")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = patient_client.get(f"/me/sessions/{s.public_id}/rating")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = patient_client.post(f"/me/sessions/{s.public_id}/rating", data=form_data())
    assert r.status_code == 303, r.get_data(as_text=True)[-3000:]
    r = patient_client.get(f"/me/sessions/{s.public_id}/rating")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = patient_client.get("/me/progress")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = patient_client.get("/me/sessions/")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = doctor_client.get("/clinic/")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = doctor_client.get(f"/clinic/sessions/{s.public_id}/correct")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    r = doctor_client.get(f"/clinic/patients/{patient.patient.public_id}/sessions")
    open("/tmp/tx/staff.html","w").write(r.get_data(as_text=True))
    open("/tmp/tx/progress.html","w").write(patient_client.get("/me/progress").get_data(as_text=True))
