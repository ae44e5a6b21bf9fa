/**
 * Maxout dense layer (Goodfellow, Warde-Farley, Mirza, Courville & Bengio, "Maxout Networks",
 * ICML 2013), the hidden unit of the MNIST nets in Goodfellow, Shlens & Szegedy, "Explaining and
 * Harnessing Adversarial Examples" (ICLR 2015): h_i = max_j (x·W_{:, i·k+j} + b_{i·k+j}), j < k.
 *
 * Pure tfjs (bundled into the extension too). Importing this module registers the class for
 * (de)serialization, so `tf.loadLayersModel` can read models that contain it.
 */
import * as tf from '@tensorflow/tfjs';

/** A tfjs weight initializer (the class is not re-exported under tf.initializers). */
export type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** Constructor arguments of {@link Maxout}. */
export interface MaxoutArgs {
  /** Number of output units. */
  readonly units: number;
  /** Linear pieces per unit (k); the affine map has units·pieces outputs. */
  readonly pieces: number;
  readonly kernelInitializer?: string | Initializer;
  readonly biasInitializer?: string | Initializer;
  readonly name?: string;
  readonly inputShape?: number[];
  readonly batchInputShape?: (number | null)[];
  readonly trainable?: boolean;
}

type InitializerConfig = Parameters<typeof tf.initializers.glorotUniform>[0];

function toInitializer(init: string | Initializer | undefined, fallback: () => Initializer):
Initializer {
  if (init == null) return fallback();
  if (typeof init !== 'string') return init;
  if (init === 'zeros') return tf.initializers.zeros();
  if (init === 'glorotUniform') return tf.initializers.glorotUniform({} as InitializerConfig);
  throw new Error(`Maxout: unsupported initializer name '${init}'`);
}

/**
 * Dense maxout layer: an affine map to `units·pieces` values (kernel [in, units·pieces], columns
 * grouped unit-major: unit i owns columns i·pieces … i·pieces+pieces−1), then the max over each
 * unit's pieces. Input [batch, in] → output [batch, units]. (Goodfellow et al. 2013 / 2015.)
 */
export class Maxout extends tf.layers.Layer {
  /** Serialization name (`class_name` in model.json). */
  static readonly className = 'Maxout';
  readonly units: number;
  readonly pieces: number;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: MaxoutArgs) {
    super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
    if (!Number.isInteger(args.units) || args.units < 1) throw new Error(`Maxout: bad units ${args.units}`);
    if (!Number.isInteger(args.pieces) || args.pieces < 1) throw new Error(`Maxout: bad pieces ${args.pieces}`);
    this.units = args.units;
    this.pieces = args.pieces;
    this.kernelInitializer = toInitializer(args.kernelInitializer, () => tf.initializers.glorotUniform({} as InitializerConfig));
    this.biasInitializer = toInitializer(args.biasInitializer, () => tf.initializers.zeros());
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inDim = shape[shape.length - 1];
    if (inDim == null) throw new Error('Maxout: the last input dimension must be known');
    const n = this.units * this.pieces;
    this.kernel = this.addWeight('kernel', [inDim, n], 'float32', this.kernelInitializer);
    this.bias = this.addWeight('bias', [n], 'float32', this.biasInitializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D;
      if (this.kernel == null || this.bias == null) throw new Error('Maxout: layer is not built');
      const z = tf.add(tf.matMul(x, this.kernel.read() as tf.Tensor2D), this.bias.read());
      if (this.pieces === 1) return z;
      return tf.max(tf.reshape(z, [-1, this.units, this.pieces]), 2);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      pieces: this.pieces,
    };
  }

  /** The kernel and bias variables (for hand-applied constraints such as max-norm). */
  weightsOf(): { kernel: tf.LayerVariable; bias: tf.LayerVariable } {
    if (this.kernel == null || this.bias == null) throw new Error('Maxout: layer is not built');
    return { kernel: this.kernel, bias: this.bias };
  }
}

let registered = false;

/** Registers {@link Maxout} with tf.serialization (idempotent; also done on import). Goodfellow et al. 2013. */
export function registerMaxout(): void {
  if (registered) return;
  tf.serialization.registerClass(Maxout);
  registered = true;
}

registerMaxout();

/** Convenience factory, like `tf.layers.dense`: a {@link Maxout} layer (Goodfellow et al. 2013). */
export function maxout(args: MaxoutArgs): Maxout {
  return new Maxout(args);
}
