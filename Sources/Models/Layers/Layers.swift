import ModelIO
import TensorCore

/// `torch.nn.Conv2d` with square kernel, symmetric stride and padding; weights `[out, in, k, k]` (+ bias).
/// The weight stays in its stored precision (`StoredTensor`: f16 / bf16 mapped, widened by the convolution
/// paths as they read it); the bias is widened to float32 at load.
public struct Conv2d: Sendable {
    public let weight: StoredTensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    /// The weight transformed for the Winograd path (float32, 16/9 of the weight's elements), prepared at load for
    /// 3×3 stride-1 padding-1 convolutions of up to `WinogradKernel.maxPreparedPairs` channel pairs (the small
    /// UNets and VAEs).
    public let winograd: WinogradKernel?

    public init(_ store: WeightStore, _ name: String, in cin: Int, out cout: Int, kernel: Int, stride: Int = 1,
                padding: Int? = nil, bias: Bool = true) throws {
        weight = try store.takeStored("\(name).weight", shape: [cout, cin, kernel, kernel])
        self.bias = bias ? try store.take("\(name).bias", shape: [cout]) : nil
        self.stride = stride
        self.padding = padding ?? kernel / 2
        winograd = kernel == 3 && stride == 1 && self.padding == 1
            && WinogradKernel.worthPreparing(inChannels: cin, outChannels: cout) ? WinogradKernel(weight: weight) : nil
    }

    /// The convolution, plus `channelOffsets` `[N, O]` and `residual` (the output's shape) when given (added as the
    /// Winograd path stores its rows; see `NN.conv2d`).
    public func callAsFunction(_ x: Tensor, channelOffsets: Tensor? = nil, residual: Tensor? = nil) -> Tensor {
        NN.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, winograd: winograd,
                  channelOffsets: channelOffsets, residual: residual)
    }
}

/// `torch.nn.Linear`: weight `[out, in]` in the checkpoint (+ bias), applied to the last axis. A float32 weight
/// is kept transposed (`[in, out]`, transposed once at load) so that every call reads it in place; an f16 / bf16
/// weight stays as stored (`[out, in]`, mapped) and the product widens it a panel or block at a time. The bias
/// is widened to float32 at load.
public struct Linear: Sendable {
    /// The weight as the product reads it.
    public enum Weight: Sendable {
        /// A float32 checkpoint weight, transposed: `[in, out]`.
        case transposed(Tensor)
        /// A half-precision checkpoint weight as stored: `[out, in]`.
        case stored(StoredTensor)
    }
    public let weight: Weight
    public let bias: Tensor?

    public init(_ store: WeightStore, _ name: String, in cin: Int, out cout: Int, bias: Bool = true) throws {
        let w = try store.takeStored("\(name).weight", shape: [cout, cin])
        weight = w.float32.map { .transposed(NN.transposeLastTwo($0)) } ?? .stored(w)
        self.bias = bias ? try store.take("\(name).bias", shape: [cout]) : nil
    }

    /// `x·Wᵀ + b`, plus `residual` when given (added as the product is stored).
    public func callAsFunction(_ x: Tensor, residual: Tensor? = nil) -> Tensor {
        switch weight {
        case .transposed(let t): NN.linear(x, transposedWeight: t, bias: bias, residual: residual)
        case .stored(let w): NN.linear(x, weight: w, bias: bias, residual: residual)
        }
    }
}

/// `torch.nn.GroupNorm` (affine), optionally fused with the SiLU that follows it in every diffusers block.
public struct GroupNorm: Sendable {
    public let groups: Int
    public let eps: Float
    public let weight: Tensor
    public let bias: Tensor

    public init(_ store: WeightStore, _ name: String, groups: Int, channels: Int, eps: Float) throws {
        self.groups = groups
        self.eps = eps
        weight = try store.take("\(name).weight", shape: [channels])
        bias = try store.take("\(name).bias", shape: [channels])
    }

    public func callAsFunction(_ x: Tensor, silu: Bool = false) -> Tensor {
        NN.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, silu: silu)
    }
}

/// `torch.nn.LayerNorm` over the last axis (affine).
public struct LayerNorm: Sendable {
    public let eps: Float
    public let weight: Tensor
    public let bias: Tensor

    public init(_ store: WeightStore, _ name: String, channels: Int, eps: Float) throws {
        self.eps = eps
        weight = try store.take("\(name).weight", shape: [channels])
        bias = try store.take("\(name).bias", shape: [channels])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { NN.layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// A typed error for a model config that our implementation cannot run, naming the file and the key.
public struct ModelConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ file: String, _ problem: String) { description = "\(file): \(problem)" }
}

/// Pads the right and bottom edges of `[N, C, H, W]` with one row/column of zeros
/// (`F.pad(x, (0, 1, 0, 1))`, as diffusers' `Downsample2D` does before an unpadded stride-2 convolution).
func padRightBottom(_ x: Tensor) -> Tensor {
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    var out = [Float](repeating: 0, count: n * c * (h + 1) * (w + 1))
    x.scalars.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for plane in 0..<(n * c) {
                for y in 0..<h {
                    let s = plane * h * w + y * w
                    let d = plane * (h + 1) * (w + 1) + y * (w + 1)
                    for xx in 0..<w { dst[d + xx] = src[s + xx] }
                }
            }
        }
    }
    return Tensor(shape: [n, c, h + 1, w + 1], scalars: out)
}
