//! Multi-row statements in a few fixed shapes, so that SQLite parses each shape once per
//! connection instead of once per batch.
//!
//! sqlx keeps a connection's prepared statements keyed by their SQL text. A multi-row
//! statement written with the batch's own row count had a new text almost every time, so
//! every batch paid for parsing and planning a statement of thousands of placeholders (about
//! a fifth of the writer connection's time in the fan-out benchmark). Instead, a list of rows
//! is cut into [`pieces`] of [`MAX_ROWS`] rows and then descending powers of two (1000 rows:
//! 256 three times, 128, 64, 32, 8), and [`Shapes`] builds the text for each length once per
//! process. At most nine texts per statement kind exist; the writer connection's statement
//! cache (`writer.rs`) is large enough to keep all of them prepared.
//!
//! The statements run on the writer connection (rusqlite); [`Binder`] binds a row's values
//! to the parameters in order.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use rusqlite::{Connection, Statement, ToSql};
use uuid::Uuid;

use crate::store::StoreError;

/// Binds values to the parameters of a statement, one after the other; the first failure is
/// kept and reported by [`Binder::finish`], so that binding code reads as one chain.
pub(in crate::store) struct Binder<'s, 'c> {
    statement: &'s mut Statement<'c>,
    next: usize,
    failed: Option<rusqlite::Error>,
}

impl<'s, 'c> Binder<'s, 'c> {
    pub fn new(statement: &'s mut Statement<'c>) -> Self {
        Self { statement, next: 0, failed: None }
    }

    /// Bind the next parameter.
    pub fn bind(&mut self, value: impl ToSql) -> &mut Self {
        self.next += 1;
        if self.failed.is_none()
            && let Err(e) = self.statement.raw_bind_parameter(self.next, value)
        {
            self.failed = Some(e);
        }
        self
    }

    /// Bind an id as the lower-case hyphenated text it is stored as (no allocation).
    pub fn uuid(&mut self, id: Uuid) -> &mut Self {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        self.bind(&*id.hyphenated().encode_lower(&mut text))
    }

    /// Like [`Self::uuid`] for an optional id (`NULL`).
    pub fn opt_uuid(&mut self, id: Option<Uuid>) -> &mut Self {
        match id {
            Some(id) => self.uuid(id),
            None => self.bind(rusqlite::types::Null),
        }
    }

    /// Every parameter bound, or the first failure as operation `op`. Binding too few
    /// would leave the rest NULL, so debug builds (the tests) check the count.
    pub fn finish(&mut self, op: &'static str) -> Result<(), StoreError> {
        debug_assert_eq!(self.next, self.statement.parameter_count(), "parameters bound");
        self.failed.take().map_or(Ok(()), |e| Err(StoreError::statement(op)(e)))
    }
}

/// Rows per statement at most (a power of two). 256 rows of the widest table (`commands`,
/// 32 columns) bind 8192 parameters, well under SQLite's 32766.
pub(super) const MAX_ROWS: usize = 256;
const SHAPES: usize = MAX_ROWS.trailing_zeros() as usize + 1;

/// Consecutive pieces of `items`, each [`MAX_ROWS`] long or a smaller power of two.
pub(super) fn pieces<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = if rest.len() >= MAX_ROWS { MAX_ROWS } else { 1 << rest.len().ilog2() };
        let (piece, tail) = rest.split_at(len);
        rest = tail;
        Some(piece)
    })
}

/// The SQL text of one statement kind for every piece length, each built on first use.
pub(super) struct Shapes {
    build: fn(usize) -> String,
    sql: [OnceLock<String>; SHAPES],
}

impl Shapes {
    /// `build(rows)` writes the statement for `rows` rows.
    pub const fn new(build: fn(usize) -> String) -> Self {
        Self { build, sql: [const { OnceLock::new() }; SHAPES] }
    }

    /// The statement for a piece of `rows` rows, as [`pieces`] cuts them.
    pub fn sql(&'static self, rows: usize) -> &'static str {
        assert!(rows.is_power_of_two() && rows <= MAX_ROWS, "no statement shape for {rows} rows");
        self.sql[rows.trailing_zeros() as usize].get_or_init(|| (self.build)(rows))
    }

    /// Write `rows`: one statement per piece, each row's values bound by `bind`; a failure is
    /// reported as operation `op`.
    pub fn execute<T>(
        &'static self,
        conn: &Connection,
        rows: &[T],
        bind: impl Fn(&mut Binder, &T),
        op: &'static str,
    ) -> Result<(), StoreError> {
        execute_pieces(conn, rows, |len| ((), self.sql(len)), |b, row, ()| bind(b, row), op)
    }
}

/// Like [`Shapes`] for a statement that also depends on a variant (which columns an update
/// rewrites): the text of each (variant, piece length) is built once and kept for the life of
/// the process. At most [`MAX_VARIANTS`] variants get texts of their own; rows of any other
/// are written as `fallback`, a variant that must do for every row.
pub(super) struct VariantShapes {
    build: fn(u32, usize) -> String,
    fallback: u32,
    texts: Mutex<VariantTexts>,
}

#[derive(Default)]
struct VariantTexts {
    variants: HashSet<u32>,
    sql: HashMap<(u32, usize), &'static str>,
}

/// Variants with texts of their own (each in up to nine lengths). A lifecycle produces a
/// handful of column sets; 12 × 9 update texts plus the other fleet statements stay within
/// the writer connection's statement cache (`writer.rs`).
pub(super) const MAX_VARIANTS: usize = 12;

impl VariantShapes {
    pub fn new(build: fn(u32, usize) -> String, fallback: u32) -> Self {
        Self { build, fallback, texts: Mutex::default() }
    }

    /// The variant and text a piece of `rows` rows of `variant` is written with.
    pub fn sql(&self, variant: u32, rows: usize) -> (u32, &'static str) {
        assert!(rows.is_power_of_two() && rows <= MAX_ROWS, "no statement shape for {rows} rows");
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        let variant = if texts.variants.contains(&variant) || texts.variants.len() < MAX_VARIANTS {
            variant
        } else {
            self.fallback
        };
        texts.variants.insert(variant);
        let sql =
            *texts.sql.entry((variant, rows)).or_insert_with(|| (self.build)(variant, rows).leak());
        (variant, sql)
    }

    /// Write `rows` of `variant` like [`Shapes::execute`]; `bind` gets the variant the
    /// statement was written with.
    pub fn execute<T>(
        &self,
        conn: &Connection,
        variant: u32,
        rows: &[T],
        bind: impl Fn(&mut Binder, &T, u32),
        op: &'static str,
    ) -> Result<(), StoreError> {
        execute_pieces(conn, rows, |len| self.sql(variant, len), bind, op)
    }
}

/// One statement per piece of `rows`: `text(len)` gives the piece's SQL and what its rows are
/// bound for, `bind` binds each row; a failure is reported as operation `op`.
fn execute_pieces<T, V: Copy>(
    conn: &Connection,
    rows: &[T],
    text: impl Fn(usize) -> (V, &'static str),
    bind: impl Fn(&mut Binder, &T, V),
    op: &'static str,
) -> Result<(), StoreError> {
    for piece in pieces(rows) {
        let (variant, sql) = text(piece.len());
        execute_one(conn, sql, op, |binder| {
            for row in piece {
                bind(binder, row, variant);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Run the (cached) statement `sql` once with the parameters `bind` binds in order; how many
/// rows it changed. A failure is reported as operation `op`.
pub(super) fn execute_one(
    conn: &Connection,
    sql: &str,
    op: &'static str,
    bind: impl FnOnce(&mut Binder) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(StoreError::statement(op))?;
    let mut binder = Binder::new(&mut statement);
    bind(&mut binder)?;
    binder.finish(op)?;
    statement.raw_execute().map_err(StoreError::statement(op))
}

/// The rows `sql` selects with `id` bound to its one parameter, each read by `read`.
pub(super) fn select_by_id<R>(
    conn: &Connection,
    sql: &str,
    id: Uuid,
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<R>,
    op: &'static str,
) -> Result<Vec<R>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(StoreError::statement(op))?;
    Binder::new(&mut statement).uuid(id).finish(op)?;
    statement
        .raw_query()
        .mapped(read)
        .collect::<rusqlite::Result<_>>()
        .map_err(StoreError::statement(op))
}

/// `?, ?, …`: `count` placeholders (an `IN (…)` list, or one row of `VALUES`).
pub(super) fn id_list(count: usize) -> String {
    vec!["?"; count].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_every_row_once_in_order_with_few_lengths() {
        for n in [0, 1, 2, 3, 255, 256, 257, 1000, 1024, 3001] {
            let items: Vec<usize> = (0..n).collect();
            let cut: Vec<&[usize]> = pieces(&items).collect();
            assert_eq!(cut.concat(), items, "{n} rows");
            assert!(cut.iter().all(|p| p.len().is_power_of_two() && p.len() <= MAX_ROWS));
            let short = cut.iter().filter(|p| p.len() < MAX_ROWS).count();
            assert!(short < SHAPES, "{n} rows: {short} short pieces");
        }
    }

    #[test]
    fn the_widest_piece_binds_fewer_parameters_than_sqlite_allows() {
        use super::super::rows::{CLIENT_COLUMNS, COMMAND_COLUMNS};
        for columns in [COMMAND_COLUMNS, CLIENT_COLUMNS] {
            let count = columns.split(',').count();
            assert!(MAX_ROWS * count < 32_766, "{count} columns × {MAX_ROWS} rows");
        }
    }

    static NUMBERED: Shapes = Shapes::new(|rows| format!("rows {rows}"));

    #[test]
    fn each_shape_is_built_once_and_named_by_its_length() {
        let first = NUMBERED.sql(64);
        assert_eq!(first, "rows 64");
        assert!(std::ptr::eq(first, NUMBERED.sql(64)));
        assert_eq!(NUMBERED.sql(1), "rows 1");
        assert!(std::panic::catch_unwind(|| NUMBERED.sql(3)).is_err());
        assert!(std::panic::catch_unwind(|| NUMBERED.sql(2 * MAX_ROWS)).is_err());
    }

    #[test]
    fn variants_get_texts_until_there_are_too_many_then_the_fallback() {
        let shapes = VariantShapes::new(|variant, rows| format!("v{variant} x{rows}"), 0);
        assert_eq!(shapes.sql(7, 4), (7, "v7 x4"));
        assert!(std::ptr::eq(shapes.sql(7, 4).1, shapes.sql(7, 4).1), "built once");
        for variant in 100..100 + MAX_VARIANTS as u32 {
            shapes.sql(variant, 1);
        }
        assert_eq!(shapes.sql(7, 8), (7, "v7 x8"), "a known variant keeps its texts");
        assert_eq!(shapes.sql(5000, 2), (0, "v0 x2"), "past the limit: the fallback");
    }
}
