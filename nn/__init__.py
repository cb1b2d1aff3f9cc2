"""nn: neural networks built from autograd Values (Neuron, Layer, MLP, losses, optimizers, training)."""
