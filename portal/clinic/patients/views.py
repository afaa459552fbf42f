"""The staff patient list and search (SPEC 5.2, 10 /clinic/patients/)."""
from __future__ import annotations

from flask import request

from portal import htmx
from portal.clinic import bp
from portal.clinic.patients import services as search
from portal.clinic.patients.forms import PatientSearchForm
from portal.security import staff_required


@bp.route("/patients/")
@staff_required
def patients():
    """Search and list patients (SPEC 5.2): a GET form, so the address is the search."""
    form = PatientSearchForm(request.args)
    form.set_choices([(k, str(v)) for k, v in search.STATUS_LABELS.items()],
                     search.staff_choices(),
                     [(k, str(v)) for k, v in search.SORT_LABELS.items()])
    results, args, status = None, {}, 422
    if form.validate():
        filters = search.PatientFilters(q=(form.q.data or "").strip(),
                                        status=form.status.data or "",
                                        practitioner=form.practitioner.data or "",
                                        sort=form.sort.data or search.DEFAULT_SORT)
        # The address carries the search (bookmarks, back button), minus the defaults.
        args = {k: v for k, v in vars(filters).items()
                if v and not (k == "sort" and v == search.DEFAULT_SORT)}
        results = search.search_patients(filters, cursor=request.args.get("after"))
        status = 200
    return htmx.render("clinic/patients.html", "clinic/_patient_search.html", status=status,
                       form=form, results=results, search_args=args)
