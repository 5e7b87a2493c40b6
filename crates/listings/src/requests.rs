//! Request bodies of listings and demands, and their parsing into checked
//! values. Every invalid field is reported at once, with its path.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use techtrade_domain::text::{self, TextError};
use techtrade_domain::{
    ApplicationNumber, IpcCode, LegalStatus, ListingKind, Maturity, Money, PatentType, PublicationNumber, RegionCode,
    TradeMode, Violations,
};
use utoipa::ToSchema;

pub const MAX_TITLE: usize = 100;
pub const MAX_SUMMARY: usize = 500;
pub const MAX_DESCRIPTION: usize = 20_000;
pub const MAX_IPC: usize = 20;
pub const MAX_PATENTS: usize = 50;

/// A supply listing as its owner writes it (create, and the result of a PATCH).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListingRequest {
    pub kind: ListingKind,
    #[schema(
        example = "一种盐湖卤水提锂的吸附剂及其制备方法",
        min_length = 1,
        max_length = 100,
        pattern = r"[^\s\u0085]"
    )]
    pub title: String,
    #[schema(min_length = 1, max_length = 500, pattern = r"[^\s\u0085]")]
    pub summary: String,
    /// Blank is the same as none.
    #[serde(default)]
    #[schema(max_length = 20_000)]
    pub description: Option<String>,
    /// IPC codes at subclass level or finer (`G06F16/33`, `G06F 16/33`, `G06F0016330000`).
    #[serde(default)]
    #[schema(value_type = Vec<IpcCode>, max_items = 20)]
    pub ipc: Vec<String>,
    pub maturity: Maturity,
    /// At least one; repeats count once.
    #[schema(min_items = 1)]
    pub trade_modes: Vec<TradeMode>,
    /// Asking price in fen; null when negotiable (面议) only. Required unless `negotiable`.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub price_fen: Option<i64>,
    #[serde(default)]
    pub negotiable: bool,
    #[schema(value_type = RegionCode, example = "630100")]
    pub region_code: String,
    /// At least one for a `patent` listing.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub patents: Vec<PatentRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PatentRequest {
    /// 申请号, e.g. `201710601862.3` or `95115608.X` (a `ZL`/`CN` prefix is accepted);
    /// its type digit is `patent_type`'s.
    #[schema(value_type = ApplicationNumber)]
    pub application_number: String,
    /// 公开/公告号, e.g. `CN114081026A`, of the same patent type.
    #[serde(default)]
    #[schema(value_type = Option<PublicationNumber>)]
    pub publication_number: Option<String>,
    pub patent_type: PatentType,
    #[schema(min_length = 1, max_length = 200, pattern = r"[^\s\u0085]")]
    pub title: String,
    /// Not after today, and in the year the application number gives.
    pub filing_date: NaiveDate,
    /// Not before `filing_date`; required for a granted invention.
    #[serde(default)]
    pub grant_date: Option<NaiveDate>,
    pub legal_status: LegalStatus,
}

/// A technology demand as its owner writes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DemandRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\s\u0085]")]
    pub title: String,
    #[schema(min_length = 1, max_length = 20_000, pattern = r"[^\s\u0085]")]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Vec<IpcCode>, max_items = 20)]
    pub ipc: Vec<String>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub budget_min_fen: Option<i64>,
    /// Not below `budget_min_fen`. A budget is required unless `negotiable`.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub budget_max_fen: Option<i64>,
    #[serde(default)]
    pub negotiable: bool,
    /// At least one; repeats count once.
    #[schema(min_items = 1)]
    pub trade_modes: Vec<TradeMode>,
    #[schema(value_type = RegionCode)]
    pub region_code: String,
    /// Today or later.
    #[serde(default)]
    pub deadline: Option<NaiveDate>,
}

/// A patent whose fields are checked, with its computed expiry.
#[derive(Debug, Clone)]
pub struct ValidPatent {
    pub application_number: ApplicationNumber,
    pub publication_number: Option<PublicationNumber>,
    pub patent_type: PatentType,
    pub title: String,
    pub filing_date: NaiveDate,
    pub grant_date: Option<NaiveDate>,
    pub legal_status: LegalStatus,
    pub expires_on: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct ValidListing {
    pub kind: ListingKind,
    pub title: String,
    pub summary: String,
    pub description: Option<String>,
    pub ipc: Vec<IpcCode>,
    pub maturity: Maturity,
    pub trade_modes: Vec<TradeMode>,
    pub price: Option<Money>,
    pub negotiable: bool,
    pub region_code: RegionCode,
    pub patents: Vec<ValidPatent>,
}

#[derive(Debug, Clone)]
pub struct ValidDemand {
    pub title: String,
    pub description: String,
    pub ipc: Vec<IpcCode>,
    pub budget_min: Option<Money>,
    pub budget_max: Option<Money>,
    pub negotiable: bool,
    pub trade_modes: Vec<TradeMode>,
    pub region_code: RegionCode,
    pub deadline: Option<NaiveDate>,
}

fn optional_text(input: Option<&str>, max: usize) -> Result<Option<String>, TextError> {
    match input.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => text::required(s, max).map(Some),
        None => Ok(None),
    }
}

fn ipc_codes(violations: &mut Violations, codes: &[String]) -> Option<Vec<IpcCode>> {
    if codes.len() > MAX_IPC {
        violations.push("ipc", "too_many", format!("at most {MAX_IPC} IPC codes"));
        return None;
    }
    let mut parsed = Vec::with_capacity(codes.len());
    let mut ok = true;
    for (i, code) in codes.iter().enumerate() {
        match violations.check(&format!("ipc[{i}]"), IpcCode::parse(code)) {
            Some(code) if !parsed.contains(&code) => parsed.push(code),
            Some(_) => {}
            None => ok = false,
        }
    }
    ok.then_some(parsed)
}

fn trade_modes(violations: &mut Violations, modes: &[TradeMode]) -> Option<Vec<TradeMode>> {
    if modes.is_empty() {
        violations.push("trade_modes", "required", "name at least one trade mode");
        return None;
    }
    let mut unique = modes.to_vec();
    unique.sort();
    unique.dedup();
    Some(unique)
}

/// A positive amount in fen, or a violation under `field`.
fn positive_amount(violations: &mut Violations, field: &str, fen: Option<i64>) -> Option<Option<Money>> {
    match fen {
        None => Some(None),
        Some(fen) if fen > 0 => Some(Money::from_fen(fen).ok()),
        Some(_) => {
            violations.push(field, "not_positive", "an amount must be more than 0 fen");
            None
        }
    }
}

fn patent(violations: &mut Violations, at: &str, input: &PatentRequest, today: NaiveDate) -> Option<ValidPatent> {
    let field = |name: &str| format!("{at}.{name}");
    let number = violations.check(&field("application_number"), ApplicationNumber::parse(&input.application_number));
    let publication = match input.publication_number.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => violations.check(&field("publication_number"), PublicationNumber::parse(p)).map(Some),
        None => Some(None),
    };
    let title = violations.check(&field("title"), text::required(&input.title, 200));
    if let Some(number) = &number {
        if number.patent_type() != input.patent_type {
            violations.push(
                field("patent_type"),
                "type_mismatch",
                format!("application number {number} is a {} application", number.patent_type().as_str()),
            );
        }
        if number.year() != input.filing_date.year() {
            violations.push(
                field("filing_date"),
                "year_mismatch",
                format!("application number {number} was filed in {}", number.year()),
            );
        }
    }
    if let Some(Some(publication)) = &publication
        && publication.patent_type() != input.patent_type
    {
        violations.push(field("publication_number"), "type_mismatch", "the kind code is of another patent type");
    }
    if input.filing_date > today {
        violations.push(field("filing_date"), "in_future", "the filing date is after today");
    }
    if let Some(granted) = input.grant_date
        && granted < input.filing_date
    {
        violations.push(field("grant_date"), "before_filing", "a patent is granted after it is filed");
    }
    if input.legal_status == LegalStatus::Granted
        && input.grant_date.is_none()
        && input.patent_type == PatentType::Invention
    {
        violations.push(field("grant_date"), "required", "a granted invention patent has a grant date");
    }
    let expires_on = input.patent_type.expires_on(input.filing_date);
    if expires_on.is_none() {
        violations.push(field("filing_date"), "out_of_range", "the filing date is out of range");
    }
    Some(ValidPatent {
        application_number: number?,
        publication_number: publication?,
        patent_type: input.patent_type,
        title: title?,
        filing_date: input.filing_date,
        grant_date: input.grant_date,
        legal_status: input.legal_status,
        expires_on: expires_on?,
    })
}

impl ListingRequest {
    /// Checks every field; `today` bounds the dates.
    pub fn validate(&self, today: NaiveDate) -> Result<ValidListing, Violations> {
        let mut v = Violations::new();
        let title = v.check("title", text::required(&self.title, MAX_TITLE));
        let summary = v.check("summary", text::required(&self.summary, MAX_SUMMARY));
        let description = v.check("description", optional_text(self.description.as_deref(), MAX_DESCRIPTION));
        let ipc = ipc_codes(&mut v, &self.ipc);
        let modes = trade_modes(&mut v, &self.trade_modes);
        let price = positive_amount(&mut v, "price_fen", self.price_fen);
        if self.price_fen.is_none() && !self.negotiable {
            v.push("price_fen", "required", "give a price, or mark the listing negotiable (面议)");
        }
        let region = v.check("region_code", RegionCode::parse(&self.region_code));
        if self.kind == ListingKind::Patent && self.patents.is_empty() {
            v.push("patents", "required", "a patent listing names at least one patent");
        }
        if self.patents.len() > MAX_PATENTS {
            v.push("patents", "too_many", format!("at most {MAX_PATENTS} patents"));
        }
        let mut patents = Vec::with_capacity(self.patents.len());
        let mut patents_ok = true;
        for (i, input) in self.patents.iter().enumerate() {
            let at = format!("patents[{i}]");
            match patent(&mut v, &at, input, today) {
                Some(p) if patents.iter().any(|q: &ValidPatent| q.application_number == p.application_number) => {
                    v.push(format!("{at}.application_number"), "duplicate", "this patent is already listed");
                    patents_ok = false;
                }
                Some(p) => patents.push(p),
                None => patents_ok = false,
            }
        }
        v.finish(|| {
            Some(ValidListing {
                kind: self.kind,
                title: title?,
                summary: summary?,
                description: description?,
                ipc: ipc?,
                maturity: self.maturity,
                trade_modes: modes?,
                price: price?,
                negotiable: self.negotiable,
                region_code: region?,
                patents: patents_ok.then_some(patents)?,
            })
        })
    }
}

impl DemandRequest {
    pub fn validate(&self, today: NaiveDate) -> Result<ValidDemand, Violations> {
        let mut v = Violations::new();
        let title = v.check("title", text::required(&self.title, MAX_TITLE));
        let description = v.check("description", text::required(&self.description, MAX_DESCRIPTION));
        let ipc = ipc_codes(&mut v, &self.ipc);
        let modes = trade_modes(&mut v, &self.trade_modes);
        let min = positive_amount(&mut v, "budget_min_fen", self.budget_min_fen);
        let max = positive_amount(&mut v, "budget_max_fen", self.budget_max_fen);
        if let (Some(Some(min)), Some(Some(max))) = (min, max)
            && min > max
        {
            v.push("budget_max_fen", "below_minimum", "the budget's maximum is below its minimum");
        }
        if self.budget_min_fen.is_none() && self.budget_max_fen.is_none() && !self.negotiable {
            v.push("budget_max_fen", "required", "give a budget, or mark the demand negotiable (面议)");
        }
        let region = v.check("region_code", RegionCode::parse(&self.region_code));
        if let Some(deadline) = self.deadline
            && deadline < today
        {
            v.push("deadline", "in_past", "the deadline has passed");
        }
        v.finish(|| {
            Some(ValidDemand {
                title: title?,
                description: description?,
                ipc: ipc?,
                budget_min: min?,
                budget_max: max?,
                negotiable: self.negotiable,
                trade_modes: modes?,
                region_code: region?,
                deadline: self.deadline,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn listing() -> ListingRequest {
        serde_json::from_value(serde_json::json!({
            "kind": "patent",
            "title": "一种盐湖卤水提锂的吸附剂",
            "summary": "铝系吸附剂，适用于高镁锂比卤水。",
            "ipc": ["C22B 26/12", "B01J0020080000"],
            "maturity": "pilot",
            "trade_modes": ["assignment", "exclusive_license", "assignment"],
            "price_fen": 150_000_000,
            "negotiable": false,
            "region_code": "632800",
            "patents": [{
                "application_number": "ZL201710601862.3",
                "patent_type": "invention",
                "title": "一种盐湖卤水提锂的吸附剂",
                "filing_date": "2017-07-27",
                "grant_date": "2019-05-10",
                "legal_status": "granted",
            }],
        }))
        .unwrap()
    }

    fn fields(result: Result<ValidListing, Violations>) -> Vec<(String, &'static str)> {
        result.unwrap_err().into_vec().into_iter().map(|v| (v.field, v.code)).collect()
    }

    #[test]
    fn a_good_listing_is_normalised() {
        let valid = listing().validate(today()).unwrap();
        assert_eq!(valid.ipc.iter().map(IpcCode::as_str).collect::<Vec<_>>(), ["C22B26/12", "B01J20/08"]);
        assert_eq!(valid.trade_modes, [TradeMode::Assignment, TradeMode::ExclusiveLicense]);
        assert_eq!(valid.patents[0].application_number.as_str(), "201710601862.3");
        assert_eq!(valid.patents[0].expires_on, NaiveDate::from_ymd_opt(2037, 7, 26).unwrap());
        assert_eq!(valid.price.map(Money::fen), Some(150_000_000));
    }

    #[test]
    fn three_bad_fields_are_three_violations() {
        let mut request = listing();
        request.title = String::new();
        request.ipc = vec!["G06Z".into()];
        request.patents[0].application_number = "201710601862.4".into();
        assert_eq!(
            fields(request.validate(today())),
            [
                ("title".into(), "required"),
                ("ipc[0]".into(), "unknown_subclass"),
                ("patents[0].application_number".into(), "bad_check_digit"),
            ]
        );
    }

    #[test]
    fn patent_rules() {
        let mut request = listing();
        request.patents[0].patent_type = PatentType::UtilityModel;
        request.patents[0].filing_date = NaiveDate::from_ymd_opt(2018, 1, 2).unwrap();
        request.patents[0].grant_date = NaiveDate::from_ymd_opt(2017, 1, 1);
        request.patents.push(request.patents[0].clone());
        request.patents[1].patent_type = PatentType::Invention;
        request.patents[1].filing_date = NaiveDate::from_ymd_opt(2017, 7, 27).unwrap();
        request.patents[1].grant_date = None;
        assert_eq!(
            fields(request.validate(today())),
            [
                ("patents[0].patent_type".into(), "type_mismatch"),
                ("patents[0].filing_date".into(), "year_mismatch"),
                ("patents[0].grant_date".into(), "before_filing"),
                ("patents[1].grant_date".into(), "required"),
                ("patents[1].application_number".into(), "duplicate"),
            ]
        );
        let mut twice = listing();
        twice.patents.push(twice.patents[0].clone());
        assert_eq!(fields(twice.validate(today())), [("patents[1].application_number".into(), "duplicate")]);
    }

    #[test]
    fn price_or_negotiable() {
        let mut request = listing();
        request.price_fen = None;
        assert_eq!(fields(request.clone().validate(today())), [("price_fen".into(), "required")]);
        request.negotiable = true;
        assert!(request.validate(today()).is_ok());
        let mut zero = listing();
        zero.price_fen = Some(0);
        assert_eq!(fields(zero.validate(today())), [("price_fen".into(), "not_positive")]);
    }

    #[test]
    fn patent_listings_need_patents_achievements_do_not() {
        let mut request = listing();
        request.patents.clear();
        assert_eq!(fields(request.clone().validate(today())), [("patents".into(), "required")]);
        request.kind = ListingKind::Achievement;
        assert!(request.validate(today()).is_ok());
    }

    #[test]
    fn demand_budgets() {
        let demand = |min: Option<i64>, max: Option<i64>, negotiable: bool| DemandRequest {
            title: "锂电池回收技术".into(),
            description: "寻求退役动力电池梯次利用与材料再生技术。".into(),
            ipc: vec!["H01M10/54".into()],
            budget_min_fen: min,
            budget_max_fen: max,
            negotiable,
            trade_modes: vec![TradeMode::JointDevelopment],
            region_code: "630100".into(),
            deadline: None,
        };
        assert!(demand(Some(100), Some(200), false).validate(today()).is_ok());
        assert!(demand(None, None, true).validate(today()).is_ok());
        let codes = |d: DemandRequest| {
            d.validate(today()).unwrap_err().into_vec().into_iter().map(|v| v.code).collect::<Vec<_>>()
        };
        assert_eq!(codes(demand(Some(300), Some(200), false)), ["below_minimum"]);
        assert_eq!(codes(demand(None, None, false)), ["required"]);
        let mut late = demand(None, None, true);
        late.deadline = NaiveDate::from_ymd_opt(2026, 1, 1);
        assert_eq!(codes(late), ["in_past"]);
    }
}
