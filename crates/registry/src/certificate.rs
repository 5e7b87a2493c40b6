//! The registration certificate (技术合同登记证明): what the office
//! registered — number, parties, category, 成交额 and 技术交易额 as
//! registered (after any amendment), the office and the day — for the
//! parties and officials, as a printable page (rendered by the web front,
//! which owns the templates and styles: [`CertificatePage`]) or as a PDF
//! with a Chinese font embedded (subset to the characters used).

use std::sync::Arc;

use chrono::NaiveDate;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use serde::Serialize;
use techtrade_db::accounts;
use techtrade_domain::Money;
use techtrade_domain::deal::ContractCategory;
use techtrade_domain::registration::{ApplicationStatus, ContractSubcategory};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode};
use utoipa::ToSchema;

use crate::RegistrySettings;
use crate::service::{status_of, visible};

/// What a certificate states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CertificateFacts {
    pub registration_number: String,
    /// The registration was cancelled (注销): the certificate is void.
    pub cancelled: bool,
    /// development | transfer | license | consulting | service
    pub category: String,
    /// As the form names it: 技术开发（委托开发）, 技术许可, …
    pub category_name: String,
    pub seller_name: String,
    pub seller_credit_code: String,
    pub buyer_name: String,
    pub buyer_credit_code: String,
    /// 成交额 as registered.
    pub total_fen: i64,
    /// 技术交易额 as registered (核定).
    pub technology_fen: i64,
    pub signed_on: NaiveDate,
    pub valid_until: NaiveDate,
    /// The registration office (`registration.office_name`).
    pub office_name: String,
    /// The day it was registered, in Beijing time.
    pub registered_on: NaiveDate,
}

impl CertificateFacts {
    /// The footnote the page and the PDF both print.
    pub const NOTE: &'static str =
        "凭登记号和卖方统一社会信用代码可在本平台核验本证明的真伪。成交额、技术交易额以登记（含变更）为准。";

    pub fn note(&self) -> &'static str {
        Self::NOTE
    }
    /// `1,234,567.89 元`.
    pub fn total_yuan(&self) -> String {
        yuan(self.total_fen)
    }

    pub fn technology_yuan(&self) -> String {
        yuan(self.technology_fen)
    }

    /// The lines of the certificate, label and value, as both the page and the PDF print them.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("登记号", self.registration_number.clone()),
            ("合同类别", self.category_name.clone()),
            ("卖方（技术出让方）", self.seller_name.clone()),
            ("卖方统一社会信用代码", self.seller_credit_code.clone()),
            ("买方（技术受让方）", self.buyer_name.clone()),
            ("买方统一社会信用代码", self.buyer_credit_code.clone()),
            ("成交额", self.total_yuan()),
            ("技术交易额", self.technology_yuan()),
            ("合同签订日期", zh_date(self.signed_on)),
            ("合同有效期至", zh_date(self.valid_until)),
            ("登记机构", self.office_name.clone()),
            ("登记日期", zh_date(self.registered_on)),
        ]
    }
}

fn yuan(fen: i64) -> String {
    Money::from_fen(fen).map_or_else(|_| format!("{fen} 分"), |m| format!("{m} 元"))
}

/// `2026年10月9日`.
pub fn zh_date(day: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", day.year(), day.month(), day.day())
}

/// The category as the registration form names it.
fn category_name(category: &str, subcategory: Option<&str>) -> String {
    let main = ContractCategory::from_db(category).map_or_else(|| category.to_string(), |c| c.zh().to_string());
    match subcategory.and_then(ContractSubcategory::from_db) {
        Some(sub) => format!("{main}（{}）", sub.zh()),
        None => main.to_string(),
    }
}

/// The web front's rendering of the printable page (it owns templates and
/// styles); unset, the API answers the certificate as JSON only.
#[derive(Clone, Default)]
pub struct CertificatePage(pub Option<Arc<RenderCertificate>>);

/// Renders the printable page of a certificate (an error says what failed).
pub type RenderCertificate = dyn Fn(&CertificateFacts) -> Result<String, String> + Send + Sync;

impl std::fmt::Debug for CertificatePage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "CertificatePage(set)" } else { "CertificatePage(unset)" })
    }
}

/// The font PDF certificates are set in (`registration.certificate_font`):
/// one with Chinese glyphs, embedded as a subset.
///
/// It is read from its file for each certificate rather than held: a CJK
/// face is 20–30 MB (Noto Serif CJK: 26 MB, a tenth of a server's memory
/// budget) and certificates are printed a few times a day; reading and
/// checking it again takes tens of milliseconds beside the PDF's own work.
#[derive(Clone, Default)]
pub struct CertificateFont(Option<FontFile>);

#[derive(Clone)]
struct FontFile {
    path: std::path::PathBuf,
    /// The face in a collection (`.ttc`); 0 in a single font.
    index: u32,
}

impl FontFile {
    fn read(&self) -> Result<Font, String> {
        let bytes = std::fs::read(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        Font::new(bytes.into(), self.index)
            .ok_or_else(|| format!("{}: face {} is not a font krilla reads", self.path.display(), self.index))
    }
}

impl CertificateFont {
    /// Face `index` of the font file at `path` (a collection holds
    /// several), once it has been read as a font: a wrong path or face is
    /// told at start, not at the first certificate.
    pub fn load(path: &std::path::Path, index: u32) -> Result<Self, String> {
        let file = FontFile { path: path.to_path_buf(), index };
        file.read()?;
        Ok(Self(Some(file)))
    }

    /// The face, read from its file now.
    fn read(&self) -> ApiResult<Font> {
        let file = self.0.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "no Chinese font is configured for PDF certificates (registration.certificate_font); print the page instead",
            )
        })?;
        file.read().map_err(|error| {
            tracing::error!(%error, "registration.certificate_font cannot be read");
            ApiError::new(
                ErrorCode::Unavailable,
                "the font for PDF certificates cannot be read (registration.certificate_font); print the page instead",
            )
        })
    }
}

impl std::fmt::Debug for CertificateFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(file) => write!(f, "CertificateFont({}, face {})", file.path.display(), file.index),
            None => f.write_str("CertificateFont(none)"),
        }
    }
}

/// The certificate of application `id`, for the parties and officials
/// (anyone else: 404); 409 until it is registered.
pub async fn facts(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    id: String,
) -> ApiResult<CertificateFacts> {
    let (user, office_name) = (user.clone(), settings.office_name.clone());
    state
        .db
        .run(move |conn| {
            let (application, _) = visible(conn, &user, &id)?;
            let status = status_of(&application)?;
            if !status.in_force() && status != ApplicationStatus::Cancelled {
                return Err(ApiError::new(
                    ErrorCode::InvalidState,
                    format!("an application that is {status} has no certificate"),
                ));
            }
            let seller = accounts::find_organization(conn, &application.seller_organization_id)?
                .ok_or_else(|| ApiError::internal("the seller organisation vanished"))?;
            let missing = || ApiError::internal("a registered application lacks its number or amounts");
            Ok(CertificateFacts {
                registration_number: application.registration_number.clone().ok_or_else(missing)?,
                cancelled: status == ApplicationStatus::Cancelled,
                category_name: category_name(&application.category, application.subcategory.as_deref()),
                category: application.category,
                seller_name: seller.name,
                seller_credit_code: seller.credit_code,
                buyer_name: application.buyer_name,
                buyer_credit_code: application.buyer_credit_code,
                total_fen: application.registered_total_fen.ok_or_else(missing)?,
                technology_fen: application.registered_technology_fen.ok_or_else(missing)?,
                signed_on: application.signed_on,
                valid_until: application.valid_until,
                office_name,
                registered_on: techtrade_db::market_date(application.decided_at.ok_or_else(missing)?),
            })
        })
        .await
}

/// The certificate of application `id` as a PDF, with its file name (the
/// API's and the web front's download alike).
pub async fn pdf_of(
    state: &AppState,
    settings: &RegistrySettings,
    user: &CurrentUser,
    id: String,
) -> ApiResult<(String, Vec<u8>)> {
    let facts = facts(state, settings, user, id).await?;
    let font = settings.certificate_font.clone();
    let name = format!("技术合同登记证明-{}.pdf", facts.registration_number);
    let bytes = tokio::task::spawn_blocking(move || pdf(&facts, &font))
        .await
        .map_err(|e| ApiError::internal(format!("the certificate PDF task: {e}")))??;
    Ok((name, bytes))
}

/// A4 in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 72.0;
const LABEL_WIDTH: f32 = 150.0;
const BODY_SIZE: f32 = 12.0;
const LINE: f32 = 20.0;

/// How wide `text` is set at `size`, near enough to centre and wrap it: a
/// Chinese character is one em, other characters half of one.
fn width(text: &str, size: f32) -> f32 {
    text.chars().map(|c| if c.is_ascii() { 0.5 } else { 1.0 }).sum::<f32>() * size
}

/// `text` in lines of at most `max` points; closing punctuation never
/// starts a line (it hangs at the end of the one before, as Chinese
/// typesetting has it).
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    const CLOSING: &str = "）。，、；：！？」』”’)]";
    let mut lines = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let hangs = CLOSING.contains(c);
        if !current.is_empty() && !hangs && width(&current, size) + width(&c.to_string(), size) > max {
            lines.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    lines.push(current);
    lines
}

fn fill(r: u8, g: u8, b: u8) -> Fill {
    Fill { paint: rgb::Color::new(r, g, b).into(), opacity: NormalizedF32::ONE, rule: Default::default() }
}

/// The certificate as a one-page A4 PDF in `font`.
pub fn pdf(facts: &CertificateFacts, font: &CertificateFont) -> ApiResult<Vec<u8>> {
    let font = font.read()?;
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("技术合同登记证明 {}", facts.registration_number))
            .creator("techtrade".to_string()),
    );
    let settings = PageSettings::from_wh(PAGE.0, PAGE.1).ok_or_else(|| ApiError::internal("page size"))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    let text = |surface: &mut krilla::surface::Surface, x: f32, y: f32, size: f32, line: &str| {
        surface.draw_text(Point::from_xy(x, y), font.clone(), size, line, false, TextDirection::Auto);
    };
    surface.set_fill(Some(fill(0, 0, 0)));
    let title = "技术合同登记证明";
    text(&mut surface, (PAGE.0 - width(title, 24.0)) / 2.0, MARGIN + 24.0, 24.0, title);
    let mut y = MARGIN + 70.0;
    let value_x = MARGIN + LABEL_WIDTH;
    let value_width = PAGE.0 - MARGIN - value_x;
    for (label, value) in facts.lines() {
        surface.set_fill(Some(fill(90, 90, 90)));
        text(&mut surface, MARGIN, y, BODY_SIZE, label);
        surface.set_fill(Some(fill(0, 0, 0)));
        for line in wrap(&value, BODY_SIZE, value_width) {
            text(&mut surface, value_x, y, BODY_SIZE, &line);
            y += LINE;
        }
        y += LINE / 2.0;
    }
    // A rule above the footnote.
    let mut rule = PathBuilder::new();
    rule.move_to(MARGIN, y);
    rule.line_to(PAGE.0 - MARGIN, y);
    if let Some(path) = rule.finish() {
        surface.set_fill(None);
        surface.set_stroke(Some(Stroke { width: 0.5, ..Stroke::default() }));
        surface.draw_path(&path);
        surface.set_stroke(None);
    }
    y += LINE * 1.5;
    surface.set_fill(Some(fill(90, 90, 90)));
    for line in wrap(CertificateFacts::NOTE, 10.0, PAGE.0 - 2.0 * MARGIN) {
        text(&mut surface, MARGIN, y, 10.0, &line);
        y += 16.0;
    }
    if facts.cancelled {
        surface.set_fill(Some(fill(180, 20, 20)));
        let void = "本登记已注销，证明作废";
        text(&mut surface, (PAGE.0 - width(void, 20.0)) / 2.0, y + 30.0, 20.0, void);
    }
    surface.finish();
    page.finish();
    document.finish().map_err(|e| ApiError::internal(format!("writing the certificate PDF: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_wrap_within_their_width() {
        let lines = wrap("青海高原光伏科技有限公司西宁分公司ABC", 12.0, 120.0);
        assert_eq!(lines, ["青海高原光伏科技有限", "公司西宁分公司ABC"]);
        assert!(lines.iter().all(|line| width(line, 12.0) <= 120.0));
        assert_eq!(wrap("", 12.0, 120.0), [""]);
        assert_eq!(wrap("一二三四五六七八九十）。", 12.0, 120.0), ["一二三四五六七八九十）。"]);
    }

    #[test]
    fn categories_are_named_as_the_form_names_them() {
        assert_eq!(category_name("development", Some("commissioned_development")), "技术开发（委托开发）");
        assert_eq!(category_name("license", None), "技术许可");
        assert_eq!(zh_date(NaiveDate::from_ymd_opt(2026, 10, 9).expect("day")), "2026年10月9日");
    }

    fn facts() -> CertificateFacts {
        let day = |d| NaiveDate::from_ymd_opt(2026, 10, d).expect("day");
        CertificateFacts {
            registration_number: "2026630100000042".to_string(),
            cancelled: false,
            category: "license".to_string(),
            category_name: category_name("license", None),
            seller_name: "青海高原光伏科技有限公司".to_string(),
            seller_credit_code: "91630100MA7XXXXX1A".to_string(),
            buyer_name: "西宁新能源有限公司".to_string(),
            buyer_credit_code: "91630100MA7XXXXX2B".to_string(),
            total_fen: 50_000_000,
            technology_fen: 40_000_000,
            signed_on: day(9),
            valid_until: day(30),
            office_name: "青海省技术市场管理办公室".to_string(),
            registered_on: day(12),
        }
    }

    /// Not held between certificates: a file gone since start fails the
    /// next certificate (503: print the page), where a held face would not.
    #[test]
    fn the_font_is_checked_at_start_and_read_for_each_certificate() {
        const NOTO: &str = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc";
        let dir = tempfile::tempdir().expect("temporary dir");
        let path = dir.path().join("font.ttc");
        std::fs::copy(NOTO, &path).expect("fonts-noto-cjk is installed (.ci/run installs it)");
        assert!(CertificateFont::load(&dir.path().join("missing.ttc"), 0).is_err());
        assert!(CertificateFont::load(&path, 99).is_err(), "no 100th face");
        let font = CertificateFont::load(&path, 2).expect("face 2 reads");
        assert!(pdf(&facts(), &font).expect("a PDF").starts_with(b"%PDF"));
        std::fs::remove_file(&path).expect("font removed");
        assert_eq!(pdf(&facts(), &font).expect_err("read again").code(), ErrorCode::Unavailable);
        assert_eq!(pdf(&facts(), &CertificateFont::default()).expect_err("none").code(), ErrorCode::Unavailable);
    }
}
