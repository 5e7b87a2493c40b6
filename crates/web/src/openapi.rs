//! The base of the OpenAPI document; each service adds its paths.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem};

pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "techtrade",
        description = "The API of an online technology-trading market: listings of patents and \
                       technology achievements, demands, deals and technology contracts, and \
                       post-trade subsidies. Money is integer fen (分) in fields ending `_fen`; \
                       errors are RFC 9457 problem+json with a stable `code`."
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth)
)]
pub struct BaseApi;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}
