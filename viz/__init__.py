"""viz: draw the computation graph, every forward value and every gradient; plots; the CLI."""
