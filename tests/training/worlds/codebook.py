"""The ICD-10-CM codes the worlds write, in named groups (dotted, as people read them).

An entry is one claim's diagnosis list: a code, or a tuple of codes with the primary first.
Every code is in the April 2026 ICD-10-CM release; the groups named in HEADER_GROUPS hold valid
but non-billable header codes on purpose (tests/training/test_worlds.py checks both).
"""
from __future__ import annotations

NO_DIAGNOSIS = "none"
COSMETIC_ENCOUNTER = "cosmetic_encounter"
# Groups a claim carries when it is billed as cosmetic: its paperwork is that of a cosmetic visit.
NON_MEDICAL_GROUPS = (NO_DIAGNOSIS, COSMETIC_ENCOUNTER)

CODE_GROUPS: dict[str, tuple[str | tuple[str, ...], ...]] = {
    NO_DIAGNOSIS: ((),),
    COSMETIC_ENCOUNTER: ("Z41.1",),
    # botulinum toxin
    "migraine": ("G43.701", "G43.709", "G43.711", "G43.719"),
    "migraine_header": ("G43.70", "G43.71"),
    "dystonia": ("G24.3", "G24.5"),
    "axillary_sweating": ("L74.510",),
    "palm_sweating": ("L74.512",),
    "other_sweating": ("L74.511", "L74.513", "L74.519"),  # face, soles, unspecified site
    # hair removal
    "gender_dysphoria": ("F64.0", "F64.8", "F64.9"),
    "hirsutism": ("L68.0",),
    "pilonidal": ("L05.01", "L05.02", "L05.91", "L05.92"),
    "hidradenitis": ("L73.1", "L73.2"),  # pseudofolliculitis barbae, hidradenitis suppurativa
    # skin
    "actinic_keratosis": ("L57.0",),
    "actinic_keratosis_header": ("L57",),
    "superficial_bcc": ("C44.311", "C44.41", "C44.91"),
    "acne": ("L70.0", "L70.1", "L70.8"),
    "acne_header": ("L70",),
    "melasma": ("L81.1",),
    "tattoo_pigment": ("L81.8",),
    "keloid": ("L91.0",),
    "keloid_or_scar": ("L91.0", "L90.5"),
    "scar_header": ("L91",),
    "rosacea": ("L71.0", "L71.1", "L71.9"),
    "port_wine_stain": ("Q82.5",),
    "hemangioma": ("D18.01",),
    # hair
    "burn_sequela": ("T20.05XS", "T20.25XS", "T20.35XS"),  # burns of the scalp, sequela
    "scarring_alopecia": ("L66.0", "L66.12", "L66.2", "L66.3", "L66.81"),
    "skin_scar": ("L90.5",),
    "androgenic_alopecia": ("L64.8", "L64.9"),
    "alopecia_areata": ("L63.0", "L63.1", "L63.9"),
    "chemo_hair_loss": (("L65.1", "T45.1X5A"),),
    # veins
    "varicose_veins": ("I83.811", "I83.812", "I83.813"),
    "varicose_header": ("I83.81",),
    "venous_insufficiency": ("I87.2",),
    "venous_hypertension": ("I87.311", "I87.321", "I87.011"),
    "spider_veins": ("I78.1",),
    # massage
    "back_pain": ("M54.50", "M54.2", "M62.830", "M79.7"),
    "back_pain_header": ("M54.5",),
    "radicular_pain": ("M54.16", "M54.41", "M54.42", "M54.6"),
    "myalgia": ("M79.10", "M79.18", "M79.601", "M79.604"),
    # weight, eyelids
    "obesity_with_bmi": (("Z68.35", "E66.9"), ("E66.01", "Z68.41"), ("E66.811", "Z68.32")),
    "obesity_without_bmi": ("E66.9", "E66.01"),
    "dermatochalasis_with_field_loss": (("H02.831", "H53.451"), ("H02.834", "H53.452")),
    "dermatochalasis": ("H02.831", "H02.834"),
    "ptosis": ("H02.401", "H02.402", "H02.403"),
}
HEADER_GROUPS = ("migraine_header", "actinic_keratosis_header", "acne_header", "scar_header", "varicose_header",
                 "back_pain_header")


def entries(group: str) -> tuple[tuple[str, ...], ...]:
    """The group's diagnosis lists, each a tuple of dotted codes (primary first)."""
    return tuple((entry,) if isinstance(entry, str) else tuple(entry) for entry in CODE_GROUPS[group])
