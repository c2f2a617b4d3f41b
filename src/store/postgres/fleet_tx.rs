//! PostgreSQL implementation of [`crate::store::FleetTx`] (placeholder: being written).
