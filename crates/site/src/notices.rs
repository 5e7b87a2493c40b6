//! The subsidy's public side: the notices (公示) of closed rounds and the
//! programs in plain words, as the API shows them to anyone.

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use techtrade_subsidy::views::{RoundNotice, RoundView};
use techtrade_subsidy::{ListRoundsQuery, ProgramView, Programs};
use techtrade_web::{AppState, Page, PageQuery};

use crate::page::{self, Ctx};
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesPage {
    ctx: Ctx,
    rounds: Page<RoundView>,
    /// The page links: (number, href, current).
    pages: Vec<(u32, String, bool)>,
}

#[derive(serde::Deserialize)]
pub struct PageParam {
    page: Option<u32>,
}

/// `GET /notices`: every closed round, newest first.
pub async fn notices(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    axum::extract::Query(param): axum::extract::Query<PageParam>,
) -> Response {
    let query = PageQuery { page: param.page, per_page: Some(20) };
    let rounds = match techtrade_subsidy::rounds(&state, programs, ListRoundsQuery::default(), query).await {
        Ok(rounds) => rounds,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let last = u32::try_from((rounds.total.max(0) as u64).div_ceil(u64::from(rounds.per_page.max(1)))).unwrap_or(1);
    let pages = if last > 1 {
        (1..=last).map(|n| (n, format!("/notices?page={n}"), n == rounds.page)).collect()
    } else {
        Vec::new()
    };
    page::render(&visitor, StatusCode::OK, &NoticesPage { ctx: Ctx::new(&visitor), rounds, pages })
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    ctx: Ctx,
    notice: RoundNotice,
    /// Whether the notice period is still running (Beijing date).
    open: bool,
}

/// `GET /notices/{round_id}`: who receives how much, and until when
/// objections may be raised.
pub async fn notice(
    State(state): State<AppState>,
    Extension(programs): Extension<Programs>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let notice = match techtrade_subsidy::round_notice(&state, programs, id).await {
        Ok(notice) => notice,
        Err(error) => return page::error_page(&visitor, &error),
    };
    let open = notice.round.notice_until.is_some_and(|until| techtrade_db::today() <= until);
    page::render(&visitor, StatusCode::OK, &NoticePage { ctx: Ctx::new(&visitor), notice, open })
}

#[derive(Template)]
#[template(path = "programs.html")]
struct ProgramsPage {
    ctx: Ctx,
    programs: Vec<ProgramView>,
}

impl ProgramsPage {
    /// A program's rules in the visitor's language.
    fn summary<'a>(&self, program: &'a ProgramView) -> &'a [String] {
        if self.ctx.lang.is_english() { &program.summary_en } else { &program.summary_zh }
    }
}

/// `GET /programs`: the subsidy programs in plain language.
pub async fn programs(Extension(programs): Extension<Programs>, visitor: Visitor) -> Response {
    match techtrade_subsidy::program_views(&programs) {
        Ok(programs) => page::render(&visitor, StatusCode::OK, &ProgramsPage { ctx: Ctx::new(&visitor), programs }),
        Err(error) => page::error_page(&visitor, &error),
    }
}
