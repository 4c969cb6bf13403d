import TensorCore

extension TorchGenerator {
    /// `torch.randn(*shape, generator=g)` (float32, CPU): the same values as
    /// `randn(shape.reduce(1, *))`, in row-major order.
    public mutating func randn(shape: [Int]) -> Tensor {
        precondition(shape.allSatisfy { $0 >= 0 }, "randn: negative dimension in \(shape)")
        return Tensor(shape: shape, scalars: randn(shape.reduce(1, *)))
    }

    /// `torch.rand(*shape, generator=g)` (float32, CPU): uniform on [0, 1).
    public mutating func rand(shape: [Int]) -> Tensor {
        precondition(shape.allSatisfy { $0 >= 0 }, "rand: negative dimension in \(shape)")
        return Tensor(shape: shape, scalars: rand(shape.reduce(1, *)))
    }
}
