//! The subsidy requests' program ids and years in the OpenAPI document.
//! Programs are data (policy files loaded at start-up) and the years a
//! request may name move with the calendar, so the served document is
//! completed with them when the server starts.

use chrono::{Datelike, NaiveDate};
use techtrade_domain::policy::Program;
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::{OpenApi, RefOr};

use crate::claims::FIRST_YEAR;

/// The request bodies that name a program and a year, and whether each
/// needs the year's claims to be open (a claim, a round's close) or takes
/// any year so far (a preview, a simulation).
const BODIES: [(&str, bool); 4] =
    [("ClaimRequest", true), ("CloseRoundRequest", true), ("ClaimPreviewRequest", false), ("SimulateRequest", false)];

/// Lists `programs` as the values of `program_id`, and bounds `year`: from
/// the first year of the records to this year, or, where claims must be
/// open, to the last year whose claims are open today under every program.
pub fn document_programs(openapi: &mut OpenApi, programs: &[Program], today: NaiveDate) {
    let Some(components) = openapi.components.as_mut() else { return };
    let this_year = today.year();
    let open_everywhere = (FIRST_YEAR..=this_year)
        .rev()
        .find(|&year| programs.iter().all(|program| program.accepts_claims(year, today).is_ok()))
        .unwrap_or(FIRST_YEAR);
    for (name, needs_open_claims) in BODIES {
        let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(name) else { continue };
        if let Some(RefOr::T(Schema::Object(program_id))) = body.properties.get_mut("program_id")
            && !programs.is_empty()
        {
            program_id.enum_values = Some(programs.iter().map(|p| p.id().into()).collect());
        }
        if let Some(RefOr::T(Schema::Object(year))) = body.properties.get_mut("year") {
            bound(year, FIRST_YEAR, if needs_open_claims { open_everywhere } else { this_year });
        }
    }
}

fn bound(year: &mut Object, min: i32, max: i32) {
    year.minimum = Some(min.into());
    year.maximum = Some(max.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_the_programs_and_the_years_they_take() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/policies");
        let programs = Program::load_dir(&dir).unwrap();
        let mut openapi = utoipa::openapi::OpenApiBuilder::new()
            .components(Some(
                utoipa::openapi::ComponentsBuilder::new()
                    .schema_from::<crate::ClaimRequest>()
                    .schema_from::<crate::simulate::SimulateRequest>()
                    .build(),
            ))
            .build();
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        document_programs(&mut openapi, &programs, today);
        let json = serde_json::to_value(&openapi).unwrap();
        let claim = &json["components"]["schemas"]["ClaimRequest"]["properties"];
        let ids: Vec<&str> = programs.iter().map(|p| p.id()).collect();
        assert_eq!(claim["program_id"]["enum"], serde_json::json!(ids));
        assert_eq!(claim["year"]["minimum"], 2000);
        assert_eq!(claim["year"]["maximum"], 2025, "claims for 2026 open once it has ended");
        let simulate = &json["components"]["schemas"]["SimulateRequest"]["properties"];
        assert_eq!(simulate["year"]["maximum"], 2026, "a simulation takes the year so far");
    }
}
