"""DEFRA WasteDataFlow's names for the fly-tipping categories, as a person reads them on the pages.

The stored values are the enums' keys in :mod:`evidence_api.models` (the JSON API and the CSV return
carry those); these are the words of the WasteDataFlow fly-tipping form (issue 11 lists them), in its
order, for the case page's choices, the return page and the sites page.
"""

from __future__ import annotations

from evidence_api.models import EnforcementAction, LandType, Outcome, SizeBand, WasteType

SIZE_BANDS: dict[str, str] = {
    SizeBand.single_black_bag: "Single Black Bag",
    SizeBand.single_item: "Single Item",
    SizeBand.car_boot_or_less: "Car Boot or Less",
    SizeBand.small_van_load: "Small Van Load",
    SizeBand.transit_van_load: "Transit Van Load",
    SizeBand.tipper_lorry_load: "Tipper Lorry Load",
    SizeBand.significant_multi_loads: "Significant/Multi Loads",
}
LAND_TYPES: dict[str, str] = {
    LandType.highway: "Highway",
    LandType.footpath_bridleway: "Footpath/Bridleway",
    LandType.back_alleyway: "Back Alleyway",
    LandType.railway: "Railway",
    LandType.council_land: "Council Land",
    LandType.agricultural: "Agricultural",
    LandType.private_residential: "Private/Residential",
    LandType.commercial_industrial: "Commercial/Industrial",
    LandType.watercourse_bank: "Watercourse/Bank",
    LandType.other: "Other (unidentified)",
}
# "Chemical Drums, Oil, Fuel" is one WasteDataFlow category (the form's commas are part of its name).
WASTE_TYPES: dict[str, str] = {
    WasteType.animal_carcass: "Animal Carcass",
    WasteType.green: "Green",
    WasteType.vehicle_parts: "Vehicle Parts",
    WasteType.white_goods: "White Goods",
    WasteType.other_electrical: "Other Electrical",
    WasteType.tyres: "Tyres",
    WasteType.asbestos: "Asbestos",
    WasteType.clinical: "Clinical",
    WasteType.construction_demolition_excavation: "Constr/Demol/Excav",
    WasteType.black_bags_commercial: "Black Bags \u2013 Commercial",
    WasteType.black_bags_household: "Black Bags \u2013 Household",
    WasteType.chemical_drums_oil_fuel: "Chemical Drums, Oil, Fuel",
    WasteType.other_household: "Other Household Waste",
    WasteType.other_commercial: "Other Commercial Waste",
    WasteType.other: "Other (unidentified)",
}
ENFORCEMENT_ACTIONS: dict[str, str] = {
    EnforcementAction.investigation: "investigation",
    EnforcementAction.warning_letter: "warning letter",
    EnforcementAction.fixed_penalty_notice: "fixed penalty notice",
    EnforcementAction.statutory_notice: "statutory notice",
    EnforcementAction.duty_of_care_inspection: "duty of care inspection",
    EnforcementAction.formal_caution: "formal caution",
    EnforcementAction.injunction: "injunction",
    EnforcementAction.stop_and_search: "stop and search",
    EnforcementAction.vehicle_seized: "vehicle seized",
    EnforcementAction.prosecution: "prosecution",
}
OUTCOMES: dict[str, str] = {
    Outcome.warning_letter: "Warning letter",
    Outcome.fixed_penalty_notice: "Fixed penalty notice",
    Outcome.prosecution: "Prosecution",
    Outcome.community_resolution: "Community resolution",
    Outcome.no_further_action: "No further action",
}
NOT_RECORDED = "not recorded"


def label(names: dict[str, str], value: str | None) -> str:
    """The category's DEFRA name; a value no longer in the list (or none) as it is stored, or "not
    recorded"."""
    if not value:
        return NOT_RECORDED
    return names.get(value, value.replace("_", " "))
