"""The generated people: the patients' names (French and English, with accents), phone area
codes and accounts, and the practitioners the patients are shared among."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select

from portal import clock
from portal.demo.bulk.draws import Draws, Plan
from portal.extensions import db
from portal.models import User
from portal.searchtext import fold

DOMAIN = "generated.example.net"

FIRST_FR = ["Amélie", "Benoît", "Chloé", "Émile", "François", "Gaëlle", "Hélène", "Jérôme",
            "Léa", "Loïc", "Maël", "Marie-Ève", "Noémie", "Océane", "René", "Solène",
            "Thérèse", "Zoé", "Jean-François", "Anaïs", "Céline", "Gisèle", "Stéphane",
            "Josée", "Mathéo", "Frédérique", "Raphaël", "Éloïse", "Ginette", "Guylaine"]
FIRST_EN = ["Margaret", "Robert", "Linda", "Daniel", "Susan", "Olivia", "Gurpreet", "Mei",
            "Thomas", "Patrick", "Raj", "Helen", "Amira", "George", "Wei", "Brenda", "Kenji",
            "Siobhan", "Aaron", "Fatima", "Jasmine", "Liam", "Noah", "Priya", "Grace",
            "Owen", "Hannah", "Arjun", "Chloe", "Ethan"]
LAST_FR = ["Côté", "Bélanger", "Lévesque", "Gagné", "Bérubé", "Pelletier", "Théberge",
           "Séguin", "Ménard", "Tremblay", "Gagnon", "Bouchard", "Gauthier", "Morin",
           "Lavoie", "Fortin", "Ouellet", "Dubé", "Després", "Paré", "Leblanc", "Boucher",
           "Poirier", "Thériault", "Girard", "Lefèbvre", "Béland", "Hébert", "Roy", "Cloutier"]
LAST_EN = ["Smith", "Anderson", "Chen", "Evans", "Gill", "Harris", "Ito", "Johnson", "Kaur",
           "MacDonald", "Nguyen", "Patel", "Singh", "Thompson", "Wong", "Wilson", "O'Brien",
           "MacLeod", "Campbell", "Sandhu", "Li", "Brown", "Taylor", "Martin", "Stewart",
           "Fraser", "Reid", "Murphy", "Grewal", "Kim"]
AREA_CODES = ["604", "778", "236", "250", "403", "587", "416", "647", "514", "438", "418",
              "613", "819", "902"]
# One practitioner for every PATIENTS_PER_PRACTITIONER generated patients (six at least):
# a practitioner carries a caseload, whatever the size of the clinic's history.
PRACTITIONERS = [("dr.gauthier", "Dr. Amélie Gauthier"), ("dr.singh", "Dr. Harpreet Singh"),
                 ("dr.okafor", "Dr. Chidi Okafor"), ("dr.belanger", "Dr. Luc Bélanger"),
                 ("dr.murphy", "Dr. Siobhan Murphy"), ("dr.nakamura", "Dr. Ren Nakamura"),
                 ("dr.pelletier", "Dr. Sophie Pelletier"), ("dr.grewal", "Dr. Manpreet Grewal"),
                 ("dr.lefebvre", "Dr. Étienne Lefebvre"), ("dr.campbell", "Dr. Fiona Campbell"),
                 ("dr.nguyen", "Dr. Linh Nguyen"), ("dr.theriault", "Dr. Geneviève Thériault"),
                 ("dr.osei", "Dr. Kwame Osei"), ("dr.fraser", "Dr. Ian Fraser"),
                 ("dr.dube", "Dr. Mélanie Dubé"), ("dr.kaur", "Dr. Simran Kaur"),
                 ("dr.moreau", "Dr. Julien Moreau"), ("dr.chen", "Dr. Grace Chen"),
                 ("dr.boucher", "Dr. Maxime Boucher"), ("dr.reid", "Dr. Alison Reid")]
PATIENTS_PER_PRACTITIONER = 5000


def practitioners(password_hash: str, patients: int) -> tuple[list[User], int]:
    """The generated practitioners for a clinic of ``patients`` generated patients."""
    wanted = max(6, min(len(PRACTITIONERS), patients // PATIENTS_PER_PRACTITIONER))
    made = 0
    staff = []
    for local, name in PRACTITIONERS[:wanted]:
        email = f"{local}@{DOMAIN}"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, role="practitioner", password_hash=password_hash,
                        email_confirmed_at=clock.now(), created_at=clock.now(),
                        locale="en" if fold(name) == name.lower() else "fr_CA")
            db.session.add(user)
            made += 1
        staff.append(user)
    db.session.flush()
    return staff, made


class Accounts:
    """When each patient joined, and the invitation of those who have not accepted it yet.
    Generated accounts that accepted share one password hash (of a password thrown away)."""

    def __init__(self, draw: Draws, password_hash: str, invitation_ttl: timedelta):
        self.draw = draw
        self.password_hash = password_hash
        self.invitation_ttl = invitation_ttl

    def joined(self, plan: Plan, when: datetime, accepted: datetime | None) -> None:
        plan.user.update(created_at=when, password_hash=self.password_hash if accepted else None,
                         email_confirmed_at=accepted)
        plan.patient.update(created_at=when, last_activity_at=accepted or when)

    def invited(self, plan: Plan) -> None:
        joined = self.draw.now - self.draw.days(0, 60)
        self.joined(plan, joined, None)
        plan.token = {"purpose": "invite", "created_at": joined,
                      "token_hash": hashlib.sha256(self.draw.rng.randbytes(32)).hexdigest(),
                      "expires_at": joined + self.invitation_ttl,
                      "created_by_id": plan.user["invited_by_id"]}
