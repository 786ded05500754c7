//! `Filter`: drops every record it is applied to; used with a predicate (and `negate`) to
//! drop or keep records selectively.

use crate::{Record, SmtError, Transform};

#[derive(Debug)]
pub(crate) struct Filter;

impl Transform for Filter {
    fn apply(&self, _record: Record) -> Result<Option<Record>, SmtError> {
        Ok(None)
    }
}
