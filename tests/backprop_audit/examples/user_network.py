"""A user's own network code, in the style of Nielsen's network.py: per-sample column vectors,
weights[i] of shape (out, in), biases[i] of shape (out, 1), sigmoid everywhere, quadratic cost.

It knows nothing of backprop-audit; nielsen_book.py wraps it in claims so that the gradients it
computes are checked against torch.autograd and jax.grad.
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    def __init__(self, weights, biases):
        # As in the book's code, weights[0] belongs to the first layer after the input: the book's
        # w^2. Lists here are 0-based where the book's layer numbers start at 2.
        self.weights = [np.array(w) for w in weights]
        self.biases = [np.array(b) for b in biases]
        self.num_layers = len(weights) + 1

    def cost_derivative(self, output_activations, y):
        """∂C_x/∂a for C_x = ½‖y - a‖²."""
        return output_activations - y

    def backprop(self, x, y):
        """(nabla_b, nabla_w): the gradient of C_x for one sample x (a column), layer by layer."""
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        # l counts layers from the end, as in the book's code: l = 2 is the second-last layer.
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def mini_batch_gradient(self, mini_batch):
        """The step direction of update_mini_batch: the mean over the mini-batch of backprop's gradients."""
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        return [nb / len(mini_batch) for nb in nabla_b], [nw / len(mini_batch) for nw in nabla_w]

    def update_mini_batch(self, mini_batch, eta):
        nabla_b, nabla_w = self.mini_batch_gradient(mini_batch)
        self.weights = [w - eta * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - eta * nb for b, nb in zip(self.biases, nabla_b)]
