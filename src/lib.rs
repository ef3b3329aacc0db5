//! aml-events: react to Azure Machine Learning workspace events.
#![deny(missing_docs, rust_2018_idioms)]

pub mod event;
