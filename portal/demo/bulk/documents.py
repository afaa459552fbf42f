"""The generated clearance letters: small real PDFs, each encrypted under its own key as an
upload would be (``storage.write_many``), pending, rejected or accepted, without a preview
image (the document pages show none then)."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from portal.demo.bulk.draws import Draws, Plan, slug

REJECT_REASON = ("This letter is a referral, not a clearance. Please ask your physician to "
                 "write that they examined you and that IMS may proceed.")


def clearance(draw: Draws, plan: Plan, uploaded: datetime, status: str,
              valid_until: date | None = None, review_within: float = 72) -> datetime:
    """A clearance letter uploaded at ``uploaded``, reviewed (unless pending) 2 to
    ``review_within`` hours later; when it was reviewed (or uploaded)."""
    from portal.demo import samples

    lines = samples.clearance_lines(plan.user["name"], draw.rng.choice(
        ["Dr. R. Singh, MD", "Dr. M. Tremblay, MD", "Dr. A. Wong, MD"]))
    content = samples.pdf(lines)
    key = draw.rng.randbytes(16).hex()  # as storage.new_key(), from the seed
    reviewed = (draw.before_now(uploaded + draw.hours(2, review_within))
                if status != "pending" else None)
    plan.documents.append({
        "public_id": draw.public_id(), "kind": "clearance", "status": status,
        "original_name": f"clearance-{slug(plan.user['name'].split()[-1])}.pdf",
        "content_type": "application/pdf", "original_type": "application/pdf",
        "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
        "blob_key": key, "preview_key": None, "created_at": uploaded,
        "reviewed_at": reviewed,
        "reviewed_by_id": plan.patient["practitioner_id"] if reviewed else None,
        "valid_until": valid_until,
        # The physician's letter, dated four days before it was uploaded (as the named
        # demo's): an accepted clearance is valid from that day (SPEC 3.3).
        "letter_date": (uploaded - timedelta(days=4)).date() if status == "accepted" else None,
        "rejection_reason": REJECT_REASON if status == "rejected" else None})
    plan.blobs.append((key, content))
    return reviewed or uploaded


def valid_until(draw: Draws) -> date | None:
    """An accepted letter's end of validity: none for some, else one to twelve months on."""
    return None if draw.rng.random() < 0.3 else \
        draw.today + timedelta(days=draw.rng.randint(30, 365))
