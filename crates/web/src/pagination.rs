//! `?page=1&per_page=20` in, `{"items", "total", "page", "per_page"}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const MAX_PER_PAGE: u32 = 100;
/// The last page number accepted: what the document promises (a 32-bit
/// signed integer) and far beyond any list.
pub const MAX_PAGE: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1_000_000, default = 1)]
    pub page: Option<u32>,
    /// Items per page, at most 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u32>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
}

impl PageQuery {
    pub fn validate(self) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page == 0 || page > MAX_PAGE {
            return Err(query_error("page", "pages are numbered from 1 to 1000000"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(query_error("per_page", "per_page must be between 1 and 100"));
        }
        Ok(PageRequest { page, per_page })
    }
}

fn query_error(field: &str, message: &str) -> ApiError {
    ApiError::new(crate::ErrorCode::InvalidQuery, format!("{field}: {message}")).with_field(
        field,
        "out_of_range",
        message,
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: i64, request: PageRequest) -> Self {
        Self { items, total, page: request.page, per_page: request.per_page }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let q = |page, per_page| PageQuery { page, per_page }.validate();
        assert_eq!(q(None, None).unwrap(), PageRequest { page: 1, per_page: 20 });
        let third = q(Some(3), Some(100)).unwrap();
        assert_eq!((third.offset(), third.limit()), (200, 100));
        assert_eq!(q(Some(0), None).unwrap_err().errors()[0].field, "page");
        assert_eq!(q(Some(MAX_PAGE), None).unwrap().page, MAX_PAGE);
        assert_eq!(q(Some(MAX_PAGE + 1), None).unwrap_err().errors()[0].field, "page");
        assert_eq!(q(None, Some(101)).unwrap_err().errors()[0].field, "per_page");
        assert_eq!(q(None, Some(0)).unwrap_err().errors()[0].field, "per_page");
    }
}
