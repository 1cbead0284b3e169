// onnxruntime-node as a Lambda layer holding only what one architecture loads. The npm package
// ships native builds for every platform (288 MB unpacked, beyond Lambda's 250 MB limit for a
// function and its layers); Linux on one architecture needs 26 MB of it. The layer is assembled
// by copying files at synth time (local bundling: no Docker), and synth fails if the native
// binding it copies is not an ELF shared object for that architecture.
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { REPO_ROOT } from '../entries';

/** The packages the layer holds, in `nodejs/node_modules/`: the runtime and its one runtime dependency. */
export const ONNXRUNTIME_PACKAGES = ['onnxruntime-node', 'onnxruntime-common'] as const;

const NATIVE_DIR: Record<string, { dir: string; elfMachine: number }> = {
  // ELF e_machine values: EM_AARCH64 and EM_X86_64.
  [lambda.Architecture.ARM_64.name]: { dir: 'bin/napi-v6/linux/arm64', elfMachine: 183 },
  [lambda.Architecture.X86_64.name]: { dir: 'bin/napi-v6/linux/x64', elfMachine: 62 },
};

export interface OnnxRuntimeLayerProps {
  /**
   * The architecture of the functions that use the layer; only its native build is included.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Runtimes the layer is declared compatible with.
   * @default [lambda.Runtime.NODEJS_22_X]
   */
  readonly compatibleRuntimes?: lambda.Runtime[];
  /**
   * Where the packages are installed.
   * @default the repository's node_modules
   */
  readonly nodeModulesDir?: string;
}

export class OnnxRuntimeLayer extends Construct {
  readonly layer: lambda.LayerVersion;
  readonly architecture: lambda.Architecture;
  /** The installed onnxruntime-node version the layer was built from. */
  readonly version: string;

  constructor(scope: Construct, id: string, props: OnnxRuntimeLayerProps = {}) {
    super(scope, id);
    this.architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const native = NATIVE_DIR[this.architecture.name];
    if (!native) throw new Error(`OnnxRuntimeLayer: no onnxruntime-node build for architecture ${this.architecture.name}`);
    const nodeModules = props.nodeModulesDir ?? join(REPO_ROOT, 'node_modules');
    const ortDir = join(nodeModules, 'onnxruntime-node');
    // npm nests onnxruntime-common under onnxruntime-node when another version sits at the top.
    const commonDir = [join(ortDir, 'node_modules', 'onnxruntime-common'), join(nodeModules, 'onnxruntime-common')].find((d) => existsSync(d));
    if (!existsSync(join(ortDir, 'package.json')) || !commonDir) throw new Error(`OnnxRuntimeLayer: onnxruntime-node and onnxruntime-common must be installed under ${nodeModules}`);
    this.version = (JSON.parse(readFileSync(join(ortDir, 'package.json'), 'utf8')) as { version: string }).version;
    const nativeDir = join(ortDir, native.dir);
    assertNativeBuild(nativeDir, native.elfMachine, this.architecture.name);

    const code = lambda.Code.fromAsset(ortDir, {
      // Hash what the layer holds, not the 288 MB package it is cut from.
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // CDK caches bundled assets by source path and the serializable bundling options, which
        // leave out tryBundle: naming the build here keeps a second layer for another
        // architecture in the same app from silently reusing the first one's files.
        environment: { ONNXRUNTIME_NODE_BUILD: `${this.version}/${native.dir}` },
        // Never pulled: local bundling always succeeds or throws, so synth needs no Docker.
        image: DockerImage.fromRegistry('public.ecr.aws/lambda/nodejs:22'),
        local: {
          tryBundle(outputDir: string): boolean {
            const target = (name: string) => join(outputDir, 'nodejs', 'node_modules', name);
            copyJs(ortDir, target('onnxruntime-node'), ['package.json', 'LICENSE', 'README.md', 'dist']);
            mkdirSync(join(target('onnxruntime-node'), native.dir), { recursive: true });
            cpSync(nativeDir, join(target('onnxruntime-node'), native.dir), { recursive: true });
            copyJs(commonDir, target('onnxruntime-common'), ['package.json', 'LICENSE', 'README.md', 'dist']);
            return true;
          },
        },
      },
    });

    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code,
      compatibleArchitectures: [this.architecture],
      compatibleRuntimes: props.compatibleRuntimes ?? [lambda.Runtime.NODEJS_22_X],
      description: `onnxruntime-node ${this.version}, linux ${this.architecture.name} native build only`,
      license: 'MIT',
    });
  }
}

/** Copies the listed entries of a package, leaving out type declarations and source maps. */
function copyJs(from: string, to: string, entries: readonly string[]): void {
  mkdirSync(to, { recursive: true });
  for (const entry of entries) {
    const src = join(from, entry);
    if (!existsSync(src)) continue;
    cpSync(src, join(to, entry), {
      recursive: true,
      filter: (path) => statSync(path).isDirectory() || !/\.(d\.[cm]?ts|map)$/.test(relative(from, path)),
    });
  }
}

/**
 * Refuses a native directory whose binding is not a 64-bit little-endian ELF shared object for
 * `machine`: a mislabelled or wrong-platform binary would only fail at the first cold start.
 */
export function assertNativeBuild(dir: string, machine: number, architecture: string): void {
  const binding = join(dir, 'onnxruntime_binding.node');
  if (!existsSync(binding)) throw new Error(`OnnxRuntimeLayer: ${binding} is missing (is onnxruntime-node installed with its ${architecture} build?)`);
  const header = elfHeader(binding);
  if (!header || header.class !== 2 || header.data !== 1 || header.type !== 3 || header.machine !== machine) {
    throw new Error(`OnnxRuntimeLayer: ${binding} is not a linux ${architecture} shared object (ELF header ${JSON.stringify(header)})`);
  }
  const libs = readdirSync(dir).filter((f) => f.startsWith('libonnxruntime'));
  for (const lib of libs) {
    if (elfHeader(join(dir, lib))?.machine !== machine) throw new Error(`OnnxRuntimeLayer: ${join(dirname(binding), lib)} is not built for ${architecture}`);
  }
}

/** The identifying fields of an ELF header, or undefined when the file is not ELF. */
export function elfHeader(file: string): { class: number; data: number; type: number; machine: number } | undefined {
  const b = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, b, 0, 20, 0) < 20) return undefined;
  } finally {
    closeSync(fd);
  }
  if (b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return undefined;
  const le = b[5] === 1;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  return { class: b[4]!, data: b[5]!, type: u16(16), machine: u16(18) };
}
