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

/// Every operation of the document, each with its path.
pub fn operations_mut(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&String, &mut utoipa::openapi::path::Operation)> {
    openapi.paths.paths.iter_mut().flat_map(|(path, item)| {
        [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
            .into_iter()
            .flatten()
            .map(move |operation| (&*path, operation))
    })
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Makes the document say what every operation really answers on error:
/// problem+json (not application/json) for each documented error, and the
/// errors any request can meet whatever the handler (a malformed query or
/// body, a bad token, an unknown id, a too-large or non-JSON body, a
/// timeout), so that clients and Schemathesis can rely on the document.
pub fn complete_document(openapi: &mut utoipa::openapi::OpenApi) {
    crate::idempotency::document(openapi);
    document_empty_query_values(openapi);
    document_patches(openapi);
    use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

    let problem = |description: &str| {
        let content = Content::new(Some(Ref::from_schema_name("Problem")));
        RefOr::T(ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build())
    };
    for (path, operation) in operations_mut(openapi) {
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
        if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
            common.push(("403", "the caller's role or organisation may not do this"));
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

/// The query extractor takes a parameter given empty (`?kind=`, as an HTML
/// form sends a filter left unset) as not given; says so on every query
/// parameter whose schema an empty string would not otherwise satisfy (a
/// pattern, a format such as `date`, an enum or a minimum length). A
/// required parameter given empty is a missing one, refused: its schema
/// stays as it is.
fn document_empty_query_values(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::Required;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};

    let empty = || ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)).build();
    for (_, operation) in operations_mut(openapi) {
        for parameter in operation.parameters.iter_mut().flatten() {
            let RefOr::T(parameter) = parameter else { continue };
            if parameter.parameter_in != ParameterIn::Query || parameter.required == Required::True {
                continue;
            }
            let Some(schema) = parameter.schema.take() else { continue };
            let plain_string = matches!(&schema, RefOr::T(Schema::Object(object))
                if object.schema_type == SchemaType::new(Type::String)
                    && object.pattern.is_none()
                    && object.format.is_none()
                    && object.enum_values.is_none()
                    && object.min_length.is_none_or(|n| n == 0));
            parameter.schema = Some(if plain_string {
                schema
            } else {
                let either = AnyOfBuilder::new()
                    .item(schema)
                    .item(empty())
                    .description(Some("Empty is the same as not given."))
                    .build();
                RefOr::T(Schema::AnyOf(either))
            });
        }
    }
}

/// A PATCH body is any subset of the fields (merged into the current
/// representation, which is then checked whole): each PATCH operation whose
/// body is component `X` gets `XPatch`, the same properties with none
/// required.
fn document_patches(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::{Ref, RefOr};

    let Some(components) = openapi.components.as_mut() else { return };
    for item in openapi.paths.paths.values_mut() {
        let Some(RefOr::T(body)) = item.patch.as_mut().and_then(|operation| operation.request_body.as_mut()) else {
            continue;
        };
        for content in body.content.values_mut() {
            let RefOr::T(content) = content else { continue };
            let Some(RefOr::Ref(reference)) = content.schema.as_ref() else { continue };
            let Some(name) = reference.ref_location.rsplit('/').next().map(str::to_string) else { continue };
            let Some(RefOr::T(Schema::Object(whole))) = components.schemas.get(&name) else { continue };
            let mut partial = whole.clone();
            partial.required.clear();
            let patch_name = format!("{name}Patch");
            components.schemas.insert(patch_name.clone(), RefOr::T(Schema::Object(partial)));
            content.schema = Some(RefOr::Ref(Ref::from_schema_name(patch_name)));
        }
    }
}
