//! `/console/programs`: every subsidy program the server loaded, as `techtrade
//! policy check` summarises it, with the digest its claims are computed
//! under and any note that values still await the authority.

use askama::Template;
use axum::extract::Extension;
use axum::http::StatusCode;
use axum::response::Response;
use techtrade_subsidy::{ProgramView, Programs};

use super::Official;
use crate::page::{self, Ctx};
use crate::session::Visitor;

#[derive(Template)]
#[template(path = "console_programs.html")]
struct ProgramsPage {
    ctx: Ctx,
    programs: Vec<ProgramView>,
}

impl ProgramsPage {
    fn summary<'a>(&self, program: &'a ProgramView) -> &'a [String] {
        if self.ctx.lang.is_english() { &program.summary_en } else { &program.summary_zh }
    }
}

/// `GET /console/programs`.
pub async fn show(Extension(programs): Extension<Programs>, visitor: Visitor, _: Official) -> Response {
    match techtrade_subsidy::program_views(&programs) {
        Ok(programs) => page::render(&visitor, StatusCode::OK, &ProgramsPage { ctx: Ctx::new(&visitor), programs }),
        Err(error) => page::error_page(&visitor, &error),
    }
}
