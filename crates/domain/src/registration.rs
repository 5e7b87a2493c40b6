//! The registration office's rules (技术合同认定登记, as the 2026
//! 《技术合同认定登记管理办法》 and its 认定登记规则 run it) that need no
//! database: the kinds of contract, the catalogue of reasons a contract is
//! not registered, and the time the office has to decide.
//!
//! **Time to decide.** The office decides within 15 working days of a
//! complete application, or 30 for a contract of 500万 yuan or more or one
//! in dispute. Working days follow the national holiday calendar
//! ([`crate::calendar`]) and the count starts the day after submission. A
//! request for more material (补正) stops the clock; when the seller
//! answers, the working days that were left run again from the answer
//! ([`DecisionClock`]). The numbers are [`TimeLimits`], settings with
//! these defaults.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, Counted};

vocabulary! {
    /// The kinds within a category that the registration form tells apart:
    /// 委托开发 and 合作开发 within 技术开发; 技术培训 and 技术中介 as kinds
    /// of 技术服务 of their own.
    ContractSubcategory {
        CommissionedDevelopment = "commissioned_development",
        CooperativeDevelopment = "cooperative_development",
        Training = "training",
        Brokerage = "brokerage",
    }
}

impl ContractSubcategory {
    /// The kind as the registration form names it.
    pub fn zh(self) -> &'static str {
        match self {
            Self::CommissionedDevelopment => "委托开发",
            Self::CooperativeDevelopment => "合作开发",
            Self::Training => "技术培训",
            Self::Brokerage => "技术中介",
        }
    }

    /// The category a subcategory belongs to.
    pub fn category(self) -> crate::deal::ContractCategory {
        use crate::deal::ContractCategory;
        match self {
            Self::CommissionedDevelopment | Self::CooperativeDevelopment => ContractCategory::Development,
            Self::Training | Self::Brokerage => ContractCategory::Service,
        }
    }
}

vocabulary! {
    /// Where an application is: a draft the seller may still change, then
    /// with the office, waiting for more material (补正), and decided; once
    /// registered, a change the seller asked for waits for the office (the
    /// registration stays in force meanwhile), and a cancellation ends it.
    ApplicationStatus {
        Draft = "draft",
        Submitted = "submitted",
        MoreRequested = "more_requested",
        Registered = "registered",
        Refused = "refused",
        AmendmentRequested = "amendment_requested",
        CancellationRequested = "cancellation_requested",
        Cancelled = "cancelled",
    }
}

impl ApplicationStatus {
    /// Whether a registration is in force: registered and not cancelled.
    pub fn in_force(self) -> bool {
        matches!(self, Self::Registered | Self::AmendmentRequested | Self::CancellationRequested)
    }
}

vocabulary! {
    /// A change to a registered contract, decided by the office like an
    /// application: 变更 (new amounts or validity) or 注销.
    ChangeKind { Amendment = "amendment", Cancellation = "cancellation" }
}

vocabulary! {
    /// What an application's document is.
    DocumentKind { Contract = "contract", Annex = "annex", Invoice = "invoice", Proof = "proof" }
}

vocabulary! {
    /// The contract's technology field (技术领域), as the registration form
    /// lists them.
    TechnologyField {
        ElectronicInformation = "electronic_information",
        Aerospace = "aerospace",
        AdvancedManufacturing = "advanced_manufacturing",
        BiomedicineAndDevices = "biomedicine_and_devices",
        NewMaterials = "new_materials",
        NewEnergyAndEfficiency = "new_energy_and_efficiency",
        EnvironmentAndResources = "environment_and_resources",
        NuclearApplications = "nuclear_applications",
        Agriculture = "agriculture",
        ModernTransport = "modern_transport",
        UrbanAndSocialDevelopment = "urban_and_social_development",
    }
}

vocabulary! {
    /// The intellectual property the contract is about (知识产权类型).
    IpType {
        Patent = "patent",
        SoftwareCopyright = "software_copyright",
        TechnicalSecret = "technical_secret",
        IcLayout = "ic_layout",
        PlantVariety = "plant_variety",
        NewDrug = "new_drug",
        Other = "other",
        None = "none",
    }
}

vocabulary! {
    /// Why a contract is not registered (不予登记): the catalogue an
    /// office's refusal names one or more of.
    RefusalReason {
        /// 当事人不明确.
        PartiesUnclear = "parties_unclear",
        /// 标的不明确.
        SubjectUnclear = "subject_unclear",
        /// 价款、报酬或使用费及其支付方式不明确.
        PriceUnclear = "price_unclear",
        /// 含有非法垄断技术、妨碍技术进步或侵害他人技术成果的条款.
        RestrictiveClauses = "restrictive_clauses",
        /// 证明材料缺失或无效.
        ProofsMissing = "proofs_missing",
        /// 合同中当事人名称与印章不一致.
        NameSealMismatch = "name_seal_mismatch",
        /// 不属于技术合同.
        NotTechnologyContract = "not_technology_contract",
        /// 合同尚未生效或无效.
        NotEffective = "not_effective",
        /// 依法须经批准而未经批准.
        ApprovalMissing = "approval_missing",
    }
}

impl RefusalReason {
    /// The reason as the office's notice words it.
    pub fn zh(self) -> &'static str {
        match self {
            Self::PartiesUnclear => "当事人不明确",
            Self::SubjectUnclear => "标的不明确",
            Self::PriceUnclear => "价款、报酬或使用费及其支付方式不明确",
            Self::RestrictiveClauses => "含有非法垄断技术、妨碍技术进步或侵害他人技术成果的条款",
            Self::ProofsMissing => "证明材料缺失或无效",
            Self::NameSealMismatch => "合同当事人名称与印章不一致",
            Self::NotTechnologyContract => "不属于技术合同",
            Self::NotEffective => "合同尚未生效或无效",
            Self::ApprovalMissing => "依法须经批准而未经批准",
        }
    }
}

/// How long the office has to decide (settings; the 2026 办法's numbers
/// by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimits {
    /// Working days for an ordinary application.
    pub working_days: u32,
    /// Working days for a large contract or one in dispute.
    pub extended_working_days: u32,
    /// From this total (in fen) a contract is large: 500万 yuan.
    pub large_contract_fen: i64,
}

impl Default for TimeLimits {
    fn default() -> Self {
        Self { working_days: 15, extended_working_days: 30, large_contract_fen: 5_000_000 * 100 }
    }
}

impl TimeLimits {
    /// The working days the office has for a contract of `total_fen`.
    pub fn working_days_for(&self, total_fen: i64, in_dispute: bool) -> u32 {
        if in_dispute || total_fen >= self.large_contract_fen { self.extended_working_days } else { self.working_days }
    }
}

/// The office's clock for one application: when it must decide, and
/// whether it stands still waiting for more material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionClock {
    /// The last day the office may decide on.
    pub decide_by: NaiveDate,
    /// While more material is awaited: the day it was asked for.
    pub stopped_on: Option<NaiveDate>,
    /// Whether a year the count crossed had no holiday calendar (counted
    /// by weekends alone): the day may move once the year is announced.
    pub provisional: bool,
}

impl DecisionClock {
    /// The clock of an application submitted on `submitted_on`.
    pub fn start(
        calendar: &Calendar,
        limits: &TimeLimits,
        submitted_on: NaiveDate,
        total_fen: i64,
        in_dispute: bool,
    ) -> Self {
        let Counted { value, provisional } =
            calendar.add_working_days(submitted_on, limits.working_days_for(total_fen, in_dispute));
        Self { decide_by: value, stopped_on: None, provisional }
    }

    /// The office found the contract in dispute: it has the longer limit,
    /// the extra working days added to the day it had (a contract already
    /// large had the longer limit from the start, and keeps its day). A
    /// stopped clock stays stopped, its day moved.
    pub fn extend_for_dispute(self, calendar: &Calendar, limits: &TimeLimits, total_fen: i64) -> Self {
        let extra = limits.working_days_for(total_fen, true).saturating_sub(limits.working_days_for(total_fen, false));
        if extra == 0 {
            return self;
        }
        let moved = calendar.add_working_days(self.decide_by, extra);
        Self { decide_by: moved.value, provisional: self.provisional || moved.provisional, ..self }
    }

    /// More material was asked for on `on`: the clock stops (asking again
    /// while stopped changes nothing).
    pub fn stop(self, on: NaiveDate) -> Self {
        Self { stopped_on: self.stopped_on.or(Some(on)), ..self }
    }

    /// The seller answered on `on`: the working days that were left when
    /// the clock stopped run again from the answer. A clock that was not
    /// stopped is unchanged.
    pub fn resume(self, calendar: &Calendar, on: NaiveDate) -> Self {
        let Some(stopped_on) = self.stopped_on else { return self };
        let left = calendar.working_days_between(stopped_on, self.decide_by);
        let resumed = calendar.add_working_days(on.max(stopped_on), left.value);
        Self {
            decide_by: resumed.value,
            stopped_on: None,
            provisional: self.provisional || left.provisional || resumed.provisional,
        }
    }

    /// Working days from `today` to the deadline (negative when overdue,
    /// `None` while the clock stands still): what the queue sorts by.
    pub fn working_days_left(&self, calendar: &Calendar, today: NaiveDate) -> Option<i64> {
        if self.stopped_on.is_some() {
            return None;
        }
        Some(if today <= self.decide_by {
            i64::from(calendar.working_days_between(today, self.decide_by).value)
        } else {
            -i64::from(calendar.working_days_between(self.decide_by, today).value)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn calendar() -> Calendar {
        Calendar::load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/calendars")).unwrap()
    }

    #[test]
    fn large_contracts_and_disputes_get_thirty_working_days_across_national_day() {
        let (calendar, limits) = (calendar(), TimeLimits::default());
        let monday = date(2026, 9, 28);
        // 300万: 15 working days, the holiday skipped, Saturday 10 October worked.
        let small = DecisionClock::start(&calendar, &limits, monday, 3_000_000 * 100, false);
        assert_eq!(small, DecisionClock { decide_by: date(2026, 10, 23), stopped_on: None, provisional: false });
        // 600万, and 500万 exactly: 30.
        for total in [6_000_000 * 100, 5_000_000 * 100] {
            let large = DecisionClock::start(&calendar, &limits, monday, total, false);
            assert_eq!(large.decide_by, date(2026, 11, 13), "{total}");
        }
        let disputed = DecisionClock::start(&calendar, &limits, monday, 100, true);
        assert_eq!(disputed.decide_by, date(2026, 11, 13));
        assert_eq!(limits.working_days_for(5_000_000 * 100 - 1, false), 15, "one fen below");
    }

    #[test]
    fn a_request_for_more_material_stops_the_clock_until_the_answer() {
        let calendar = calendar();
        let clock = DecisionClock::start(&calendar, &TimeLimits::default(), date(2026, 9, 28), 100, false);
        // Asked on Friday 9 October: 11 working days were left (Saturday
        // the 10th, 12–16 and 19–23 October).
        let stopped = clock.stop(date(2026, 10, 9));
        assert_eq!(stopped.working_days_left(&calendar, date(2026, 10, 20)), None, "the clock stands still");
        assert_eq!(stopped.stop(date(2026, 10, 12)), stopped, "asking again changes nothing");
        assert_eq!(calendar.working_days_between(date(2026, 10, 9), date(2026, 10, 23)).value, 11);
        // Answered Monday 26 October: the 11 days run from the next day, to 10 November.
        let resumed = stopped.resume(&calendar, date(2026, 10, 26));
        assert_eq!(resumed.decide_by, date(2026, 11, 10));
        assert_eq!(resumed.stopped_on, None);
        // It moved by the working days the seller took (10 to 26 October: 12).
        let waited = calendar.working_days_between(date(2026, 10, 9), date(2026, 10, 26)).value;
        assert_eq!(waited, 12);
        assert_eq!(calendar.working_days_between(date(2026, 10, 23), resumed.decide_by).value, waited);
        assert_eq!(clock.resume(&calendar, date(2026, 10, 26)), clock, "a running clock is unchanged");
    }

    #[test]
    fn a_dispute_found_later_gives_the_longer_limit() {
        let (calendar, limits) = (calendar(), TimeLimits::default());
        let monday = date(2026, 9, 28);
        let small = DecisionClock::start(&calendar, &limits, monday, 100, false);
        // Found in dispute: the same day as if it had been known at submission.
        let extended = small.extend_for_dispute(&calendar, &limits, 100);
        assert_eq!(extended, DecisionClock::start(&calendar, &limits, monday, 100, true));
        assert_eq!(extended.decide_by, date(2026, 11, 13));
        // A large contract had the 30 days already.
        let large = DecisionClock::start(&calendar, &limits, monday, 6_000_000 * 100, false);
        assert_eq!(large.extend_for_dispute(&calendar, &limits, 6_000_000 * 100), large);
        // A stopped clock stays stopped; its day moves by the same 15.
        let stopped = small.stop(date(2026, 10, 9)).extend_for_dispute(&calendar, &limits, 100);
        assert_eq!(stopped.stopped_on, Some(date(2026, 10, 9)));
        assert_eq!(stopped.decide_by, date(2026, 11, 13));
    }

    #[test]
    fn the_queue_counts_working_days_left_and_overdue() {
        let calendar = calendar();
        let clock = DecisionClock::start(&calendar, &TimeLimits::default(), date(2026, 9, 28), 100, false);
        assert_eq!(clock.working_days_left(&calendar, date(2026, 9, 28)), Some(15));
        assert_eq!(clock.working_days_left(&calendar, date(2026, 10, 23)), Some(0));
        assert_eq!(clock.working_days_left(&calendar, date(2026, 10, 27)), Some(-2));
    }

    #[test]
    fn every_reason_has_its_words_and_subcategories_their_category() {
        for reason in RefusalReason::ALL {
            assert!(!reason.zh().is_empty());
        }
        assert_eq!(RefusalReason::ALL.len(), 9);
        assert_eq!(ContractSubcategory::Brokerage.category(), crate::deal::ContractCategory::Service);
        assert_eq!(ContractSubcategory::CooperativeDevelopment.category(), crate::deal::ContractCategory::Development);
    }
}
