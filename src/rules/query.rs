//! (placeholder: being written — query parser)
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Placeholder,
}
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub offset: usize,
    pub message: String,
}
pub fn parse(_: &str) -> Result<Query, QueryError> {
    Ok(Query::Placeholder)
}
