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

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Makes the document say what every operation really answers on error:
/// problem+json (not application/json) for each documented error, and the
/// errors any request can meet whatever the handler (a malformed query or
/// body, a bad token, an unknown id, a too-large or non-JSON body, a
/// timeout), so that clients and Schemathesis can rely on the document.
pub fn document_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

    let problem = |description: &str| {
        let content = Content::new(Some(Ref::from_schema_name("Problem")));
        RefOr::T(ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build())
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            for (status, response) in responses.iter_mut() {
                if let RefOr::T(response) = response
                    && !status.starts_with(['1', '2', '3'])
                    && let Some(content) = response.content.shift_remove("application/json")
                {
                    response.content.insert(PROBLEM_JSON.to_string(), content);
                }
            }
            let mut common = vec![
                ("400", "a malformed query, path parameter or body"),
                ("401", "no, an invalid, an expired or a revoked token"),
                ("503", "the request took too long, or the database is unavailable"),
            ];
            if path.contains('{') {
                common.push(("404", "no such object, or one the caller may not see"));
            }
            if operation.request_body.is_some() {
                common.push(("413", "the body is too large"));
                common.push(("415", "the body is not application/json"));
                common.push(("422", "invalid fields"));
            }
            for (status, description) in common {
                responses.entry(status.to_string()).or_insert_with(|| problem(description));
            }
        }
    }
}
