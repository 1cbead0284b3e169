// Training rows as the trainer consumes them: ordered feature columns, a 0/1 label and the event
// time (for time-based splits). Row-major float32, the same layout and precision the ONNX model
// reads at serving time, so no value the trainer sees differs from what onnxruntime sees.

export interface TrainingMatrix {
  /** Column names, in order; equal to the feature set's names for the reference workload. */
  readonly features: readonly string[];
  readonly rows: number;
  /** rows × features.length values, row-major. NaN marks a missing value. */
  readonly x: Float32Array;
  readonly label: Uint8Array;
  /** Event time of each row, epoch milliseconds. */
  readonly eventTime: Float64Array;
  /** Event id of each row, when known (for joins and provenance). */
  readonly eventIds?: readonly string[];
}
