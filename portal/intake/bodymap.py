"""The body-map region catalogue: one place for region codes, their labels in both languages
and the outline drawn for them (SPEC 2.2, 2.3 step 2; SPEC 4.1 records treated regions with
the same codes).

Codes look like ``front.shoulder.right``: view (front or back), part, and the *patient's*
side. They are stored in answers and must never change meaning; add new codes rather than
renaming old ones, so that later visits can be compared with the intake.

The drawing is a 200 x 440 figure. Shapes are written once for the half on the viewer's
left and mirrored: on the front view the viewer's left is the patient's right; on the back
view it is the patient's left.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

VIEWS = ("front", "back")
SIDES = ("right", "left")
VIEWBOX = "32 2 136 434"  # the figure, with a small margin
INTENSITIES = tuple(range(11))

Point = tuple[float, float]


@dataclass(frozen=True)
class Part:
    key: str
    area: str
    en: str
    fr_CA: str


@dataclass(frozen=True)
class Region:
    code: str
    view: str
    part: str
    side: str
    area: str
    labels: dict[str, str]
    points: str  # SVG polygon points, already mirrored for the side
    center: Point  # where the intensity number is written

    def label(self, locale: str) -> str:
        return self.labels.get(locale) or self.labels["en"]


AREAS = {
    "front": (
        ("head_neck", {"en": "Front: head and neck", "fr_CA": "Avant : tête et cou"}),
        ("arms", {"en": "Front: shoulders and arms", "fr_CA": "Avant : épaules et bras"}),
        ("trunk", {"en": "Front: chest and belly", "fr_CA": "Avant : poitrine et ventre"}),
        ("legs", {"en": "Front: hips and legs", "fr_CA": "Avant : hanches et jambes"}),
    ),
    "back": (
        ("head_neck", {"en": "Back: head and neck", "fr_CA": "Arrière : tête et cou"}),
        ("arms", {"en": "Back: shoulders and arms", "fr_CA": "Arrière : épaules et bras"}),
        ("trunk", {"en": "Back: back and buttocks", "fr_CA": "Arrière : dos et fesses"}),
        ("legs", {"en": "Back: legs", "fr_CA": "Arrière : jambes"}),
    ),
}

SIDE_LABELS = {
    "right": {"en": "right side", "fr_CA": "côté droit"},
    "left": {"en": "left side", "fr_CA": "côté gauche"},
}

VIEW_LABELS = {
    "front": {"en": "Front", "fr_CA": "Avant"},
    "back": {"en": "Back", "fr_CA": "Arrière"},
}

PARTS = {
    "front": (
        Part("head", "head_neck", "Forehead and temple", "Front et tempe"),
        Part("jaw", "head_neck", "Jaw and face", "Mâchoire et visage"),
        Part("neck", "head_neck", "Front of neck", "Devant du cou"),
        Part("shoulder", "arms", "Shoulder (front)", "Épaule (avant)"),
        Part("upper_arm", "arms", "Upper arm (front)", "Haut du bras (avant)"),
        Part("elbow", "arms", "Inside of elbow", "Pli du coude"),
        Part("forearm", "arms", "Forearm (palm side)", "Avant-bras (côté paume)"),
        Part("wrist", "arms", "Wrist (palm side)", "Poignet (côté paume)"),
        Part("hand", "arms", "Palm and fingers", "Paume et doigts"),
        Part("chest", "trunk", "Chest", "Poitrine"),
        Part("abdomen", "trunk", "Belly", "Ventre"),
        Part("hip", "legs", "Hip and groin", "Hanche et aine"),
        Part("thigh", "legs", "Thigh (front)", "Cuisse (avant)"),
        Part("knee", "legs", "Knee", "Genou"),
        Part("shin", "legs", "Shin", "Tibia"),
        Part("ankle", "legs", "Ankle (front)", "Cheville (avant)"),
        Part("foot", "legs", "Top of foot", "Dessus du pied"),
    ),
    "back": (
        Part("head", "head_neck", "Back of head", "Arrière de la tête"),
        Part("neck", "head_neck", "Back of neck", "Nuque"),
        Part("upper_back", "trunk", "Top of shoulder and upper back",
             "Haut de l'épaule et du dos"),
        Part("shoulder", "arms", "Shoulder (back)", "Épaule (arrière)"),
        Part("upper_arm", "arms", "Upper arm (back)", "Haut du bras (arrière)"),
        Part("elbow", "arms", "Elbow (back)", "Coude (arrière)"),
        Part("forearm", "arms", "Forearm (back)", "Avant-bras (dos)"),
        Part("wrist", "arms", "Wrist (back)", "Poignet (dos)"),
        Part("hand", "arms", "Back of hand", "Dos de la main"),
        Part("shoulder_blade", "trunk", "Shoulder blade", "Omoplate"),
        Part("mid_back", "trunk", "Middle back", "Milieu du dos"),
        Part("low_back", "trunk", "Low back", "Bas du dos"),
        Part("buttock", "trunk", "Buttock", "Fesse"),
        Part("thigh", "legs", "Back of thigh", "Arrière de la cuisse"),
        Part("knee", "legs", "Back of knee", "Arrière du genou"),
        Part("calf", "legs", "Calf", "Mollet"),
        Part("ankle", "legs", "Ankle (back)", "Cheville (arrière)"),
        Part("foot", "legs", "Heel and sole", "Talon et plante du pied"),
    ),
}


# --- the drawing: the half on the viewer's left, x <= 100 -------------------------------

def _half_ellipse(cx: float, cy: float, rx: float, ry: float, steps: int = 14) -> list[Point]:
    """Points of the left half of an ellipse, from the top down to the bottom."""
    return [(round(cx - rx * math.sin(math.pi * i / steps), 1),
             round(cy - ry * math.cos(math.pi * i / steps), 1)) for i in range(steps + 1)]


def _head_front() -> tuple[list[Point], list[Point]]:
    """The front of the head split at y=48 into forehead/temple and jaw/face."""
    outline = _half_ellipse(100, 34, 22, 27)
    upper = [p for p in outline if p[1] <= 48]
    lower = [p for p in outline if p[1] > 48]
    cut_x = round(100 - 22 * math.sqrt(1 - ((48 - 34) / 27) ** 2), 1)
    return [*upper, (cut_x, 48), (100, 48)], [(100, 48), (cut_x, 48), *lower]


_ARM: dict[str, list[Point]] = {
    "upper_arm": [(49, 114), (64, 114), (63, 158), (46, 158)],
    "elbow": [(46, 158), (63, 158), (62, 176), (44, 176)],
    "forearm": [(44, 176), (62, 176), (58, 220), (41, 220)],
    "wrist": [(41, 220), (58, 220), (57, 234), (39, 234)],
    "hand": [(39, 234), (57, 234), (58, 252), (53, 268), (43, 268), (37, 252)],
}
_LEG_BELOW_THIGH: dict[str, list[Point]] = {
    "knee": [(74, 302), (96, 302), (95, 330), (75, 330)],
    "shin": [(75, 330), (95, 330), (92, 398), (78, 398)],
    "ankle": [(78, 398), (92, 398), (92, 412), (78, 412)],
    "foot": [(78, 412), (92, 412), (96, 424), (94, 432), (72, 432), (73, 420)],
}
_NECK: list[Point] = [(88, 56), (100, 58), (100, 80), (86, 80)]
_SHOULDER: list[Point] = [(86, 80), (70, 82), (57, 89), (50, 102), (49, 114), (64, 114), (66, 102),
             (75, 93), (85, 89)]


def _front_shapes() -> dict[str, list[Point]]:
    head, jaw = _head_front()
    return {
        "neck": _NECK, "head": head, "jaw": jaw, "shoulder": _SHOULDER,
        "chest": [(86, 80), (100, 80), (100, 136), (69, 136), (66, 102), (75, 93), (85, 89)],
        "abdomen": [(69, 136), (100, 136), (100, 196), (71, 196)],
        "hip": [(71, 196), (100, 196), (100, 226), (69, 226), (68, 210)],
        "thigh": [(69, 226), (99, 226), (96, 302), (74, 302)],
        **_ARM, **_LEG_BELOW_THIGH,
    }


def _back_shapes() -> dict[str, list[Point]]:
    legs = dict(_LEG_BELOW_THIGH)
    legs["calf"] = legs.pop("shin")
    return {
        "neck": _NECK, "head": _half_ellipse(100, 34, 22, 27), "shoulder": _SHOULDER,
        "upper_back": [(86, 80), (100, 80), (100, 106), (66, 106), (66, 102), (75, 93),
                       (85, 89)],
        "shoulder_blade": [(66, 106), (100, 106), (100, 140), (69, 140)],
        "mid_back": [(69, 140), (100, 140), (100, 170), (70, 170)],
        "low_back": [(70, 170), (100, 170), (100, 200), (71, 200)],
        "buttock": [(71, 200), (100, 200), (100, 232), (69, 232), (68, 214)],
        "thigh": [(69, 232), (99, 232), (96, 302), (74, 302)],
        **_ARM, **legs,
    }


def _points(shape: list[Point], mirror: bool) -> str:
    def fmt(v: float) -> str:
        return f"{v:g}"
    return " ".join(f"{fmt(200 - x if mirror else x)},{fmt(y)}" for x, y in shape)


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Region]:
    regions: dict[str, Region] = {}
    shapes = {"front": _front_shapes(), "back": _back_shapes()}
    for view in VIEWS:
        for part in PARTS[view]:
            for side in SIDES:
                # Front view: the patient's right is on the viewer's left (not mirrored).
                mirror = (side == "left") if view == "front" else (side == "right")
                code = f"{view}.{part.key}.{side}"
                labels = {"en": f"{part.en}, {SIDE_LABELS[side]['en']}",
                          "fr_CA": f"{part.fr_CA}, {SIDE_LABELS[side]['fr_CA']}"}
                shape = shapes[view][part.key]
                cx = sum(x for x, _y in shape) / len(shape)
                cy = sum(y for _x, y in shape) / len(shape)
                regions[code] = Region(code, view, part.key, side, part.area, labels,
                                       _points(shape, mirror),
                                       (round(200 - cx if mirror else cx, 1), round(cy, 1)))
    return regions


def regions() -> list[Region]:
    """Every region, front then back, in the order of the list control."""
    return list(_catalogue().values())


def region(code: str) -> Region | None:
    return _catalogue().get(code)


def is_region(code: str) -> bool:
    return code in _catalogue()


def label(code: str, locale: str) -> str:
    found = region(code)
    return found.label(locale) if found else code


def by_view(view: str) -> list[Region]:
    return [r for r in regions() if r.view == view]


def grouped(view: str, locale: str) -> list[tuple[str, str, list[Region]]]:
    """(area key, area label, regions) for one view: a fieldset each in the list control."""
    out = []
    for area, labels in AREAS[view]:
        members = [r for r in by_view(view) if r.area == area]
        out.append((area, labels.get(locale) or labels["en"], members))
    return out


def view_label(view: str, locale: str) -> str:
    return VIEW_LABELS[view].get(locale) or VIEW_LABELS[view]["en"]


# --- zooming in by area (a phone: the thinnest region drawn at least 44 px) --------------

@dataclass(frozen=True)
class Zoom:
    key: str  # "front.arm_right": the view and the area
    view: str
    labels: dict[str, str]
    codes: tuple[str, ...]
    crop: str  # SVG viewBox of the area, with a small margin

    def label(self, locale: str) -> str:
        return self.labels.get(locale) or self.labels["en"]


_ARM_PARTS = ("shoulder", "upper_arm", "elbow", "forearm", "wrist", "hand")
_ZOOMS = {
    "front": (
        ("head_neck", None, ("head", "jaw", "neck"), "Head and neck", "Tête et cou"),
        ("arm_right", "right", _ARM_PARTS, "Right shoulder and arm", "Épaule et bras droits"),
        ("arm_left", "left", _ARM_PARTS, "Left shoulder and arm", "Épaule et bras gauches"),
        ("trunk", None, ("chest", "abdomen"), "Chest and belly", "Poitrine et ventre"),
        ("hips_knees", None, ("hip", "thigh", "knee"), "Hips, thighs and knees",
         "Hanches, cuisses et genoux"),
        ("lower_legs", None, ("shin", "ankle", "foot"), "Shins and feet",
         "Tibias et pieds"),
    ),
    "back": (
        ("head_neck", None, ("head", "neck"), "Head and neck", "Tête et nuque"),
        ("arm_right", "right", _ARM_PARTS, "Right shoulder and arm", "Épaule et bras droits"),
        ("arm_left", "left", _ARM_PARTS, "Left shoulder and arm", "Épaule et bras gauches"),
        ("trunk", None, ("upper_back", "shoulder_blade", "mid_back", "low_back", "buttock"),
         "Back and buttocks", "Dos et fesses"),
        ("thighs_knees", None, ("thigh", "knee"), "Thighs and knees", "Cuisses et genoux"),
        ("lower_legs", None, ("calf", "ankle", "foot"), "Calves and feet", "Mollets et pieds"),
    ),
}
_ZOOM_MARGIN = 3


def _crop(codes: list[str]) -> str:
    xs: list[float] = []
    ys: list[float] = []
    for code in codes:
        for pair in _catalogue()[code].points.split():
            x, y = pair.split(",")
            xs.append(float(x))
            ys.append(float(y))
    x0, y0 = min(xs) - _ZOOM_MARGIN, min(ys) - _ZOOM_MARGIN
    return (f"{x0:g} {y0:g} {max(xs) + _ZOOM_MARGIN - x0:g} "
            f"{max(ys) + _ZOOM_MARGIN - y0:g}")


@lru_cache(maxsize=1)
def _zooms() -> dict[str, Zoom]:
    out: dict[str, Zoom] = {}
    for view in VIEWS:
        for key, side, parts, en, fr in _ZOOMS[view]:
            codes = [f"{view}.{part}.{s}" for part in parts for s in SIDES
                     if side is None or s == side]
            out[f"{view}.{key}"] = Zoom(f"{view}.{key}", view, {"en": en, "fr_CA": fr},
                                        tuple(codes), _crop(codes))
    return out


def zooms(view: str) -> list[Zoom]:
    """The areas a phone zooms into, for one view; every region of the view is in one."""
    return [z for z in _zooms().values() if z.view == view]


def zoom_of(code: str) -> str:
    return next(z.key for z in _zooms().values() if code in z.codes)
