"""Z3 models: what the model checker can only sample, proved for every size."""
