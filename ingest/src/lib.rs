//! Getting rec files to the dataflow.
