"""HTML report of a model run: dataset, training, evaluation, interest map, cohorts, drift, neighbourhood."""
