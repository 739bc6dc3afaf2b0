/**
 * The one interface every ecosystem wing implements (base image aside, which is the ground they stand on).
 * A wing owns its spec section, its declared inputs, its lock section and its Dockerfile section; the lock,
 * the fingerprint, drift and the Dockerfile are composed from the wings listed in registry.ts. Adding an
 * ecosystem is one folder implementing this plus one line in the registry.
 *
 * Data flow through a wing: spec section → `load` (reads manifests) → declared inputs (hashed into the lock's
 * inputHash) → `plan` decides keep or resolve → `resolve` (through the ports) → lock section → `render`.
 */
import type { z } from 'zod';
import type { Clock, ContainerEngine, FileFetcher, GitSources, Logger, PackageIndex } from '../core/ports.js';
import type { DriftEntry } from '../core/drift.js';
import type { Ground } from '../core/ground.js';
import type { TargetName } from '../core/image-contract.js';
import type { CredentialStore } from '../core/url-credentials.js';

/** What `load` may read: manifests named by the spec (missing ones are input errors) and optional files. */
export interface LoadContext {
  /** Project-relative path of the spec, for messages and as the `source` of inline entries. */
  specFile: string;
  /** Reads a project file the spec names; records it as an input file; a missing file is an input error. */
  readManifest(rel: string, listedAt: string): Promise<string>;
  /** Reads a project file that may be absent (null); records it as an input file when present. */
  readOptional(rel: string): Promise<string | null>;
  /** Where userinfo found in URLs goes: declared inputs keep URLs without it (see core/url-credentials.ts). */
  credentials: CredentialStore;
}

/** How `lock` was asked to resolve. */
export interface ResolveOptions {
  /** Re-resolve everything, ignoring previous pins. */
  upgradeAll: boolean;
  /** Re-resolve these packages (and what must move with them). */
  upgradePackages?: string[];
  /** Ignore files published after this instant (overrides the spec). */
  excludeNewer?: string;
}

export interface ResolveContext<Section> {
  ground: Ground;
  engine: ContainerEngine;
  index: PackageIndex;
  /** Remote files by URL (streamed and hashed); absent where nothing wires it (a wing needing it says so). */
  files?: FileFetcher;
  /** Git repositories (git+ requirements); absent where nothing wires it. */
  git?: GitSources;
  clock: Clock;
  logger: Logger;
  options: ResolveOptions;
  /** The previous lock's section, when there is one: it seeds preferences. */
  previous: Section | null;
  /** Ctrl-C: a container the wing runs is stopped and removed when it fires. */
  signal?: AbortSignal;
}

/** What decides whether a previous section can be kept as it is. */
export interface PlanContext<Section> {
  previous: Section | null;
  /** The probe of the base image was redone (new base, new interpreter or an upgrade). */
  reprobed: boolean;
  options: ResolveOptions;
}

/** A wing's part of a Dockerfile: text blocks (with their comment lines) for the shared deps stage and dev. */
export interface DockerfileSection {
  /** Lines appended to the deps stage's `ENV` instruction, e.g. `PIP_NO_CACHE_DIR=1`. */
  depsEnv?: string[];
  /** Stages of their own before the deps stage (with their comment lines), e.g. one that builds wheels from sdists. */
  stages?: string;
  /** Installed in the deps stage, shared by deploy and dev. */
  deps?: string;
  /** Installed in the dev stage only. */
  dev?: string;
}

export interface RenderContext extends Ground {
  /** Files from templates/ a wing may embed, by name (e.g. envseal_seed.py). */
  assets: Readonly<Record<string, string>>;
}

type InferOrUndefined<T> = T extends z.ZodType ? z.infer<T> | undefined : undefined;

/** What `envseal init` found for a wing among the project's top-level files. */
export interface InitFindings {
  /** Files it will use, for the user. */
  found: string[];
  /** Its top-level envseal.yaml section (or a commented-out example when nothing was found). */
  lines: string[];
  /** Its lines under `targets.dev:` (indented four spaces), if any. */
  devLines: string[];
  /**
   * Files of its ecosystem it recognises but does not read (e.g. a lock format not supported yet): `init` lists
   * them and `lock` refuses (exit 2) while they are present and not under `ignore:` in envseal.yaml, because
   * following the other manifests instead would silently give a different environment. A file listed in
   * `found` as well (a lock the written spec follows) is shown by init as used, and `lock` still refuses it
   * when the spec does not read it.
   */
  unused?: { file: string; why: string }[];
  /**
   * Files `init` puts into the spec that only some specs read (a conda environment.yml): `lock` refuses like for
   * `unused` when the spec neither reads nor ignores them.
   */
  mustRead?: { file: string; why: string }[];
  /** A file it found but cannot use as it is: init refuses with this input error's code, message and hint. */
  refuse?: { code: string; message: string; hint: string };
}

/** How verify checks that an image holds exactly what a section pins. */
export interface ContentsCheck<Section> {
  /** Shell commands run in a container of the image (root, no network) that print what is installed. */
  script(section: Section): string;
  /** The same in a container of the base image, when telling "added by the build" needs the base's list. */
  baseScript?(section: Section): string;
  /** One line per difference between the section (for `target`) and what the scripts printed. */
  compare(section: Section, target: TargetName, observed: string | null, base: string | null): string[];
}

export interface Ecosystem<
  Id extends string,
  Spec extends z.ZodType,
  DevSpec extends z.ZodType | null,
  Declared extends z.ZodType,
  Section extends z.ZodType,
  State,
> {
  /** The key of its section in envseal.yaml, in the lock's `declared` and in the lock. */
  readonly id: Id;
  /** One line for `--help`, docs and messages, e.g. "Python packages (pip)". */
  readonly title: string;
  /**
   * Set by every wing added after lock format 1: when a project does not use it, its keys are absent from the
   * lock and from the fingerprint input (not null), so existing locks keep their bytes and fingerprints and
   * need no migration (registry.ts `unusedValue`).
   */
  readonly addedLater?: true;
  readonly schemas: {
    /** Its top-level section of envseal.yaml. */
    spec: Spec;
    /** Its section under `targets.dev` (packages for the dev image only), or null when it has none. */
    devSpec: DevSpec;
    /** Its declared inputs as the lock stores them. */
    declared: Declared;
    /** Its resolved section of the lock. */
    section: Section;
  };
  /**
   * True when its section depends on the target platform beyond the base's version pins (Python: which wheel
   * fits, platform markers): a lock of several platforms then holds one section per platform. Others share the
   * primary platform's section.
   */
  readonly perPlatform?: boolean;
  /** For `envseal init`: what it finds among the project's top-level file names. */
  init(files: readonly string[]): InitFindings;
  /** Reads the manifests its spec sections name. Null when the project does not use this ecosystem. */
  load(spec: z.infer<Spec> | undefined, dev: InferOrUndefined<DevSpec>, ctx: LoadContext): Promise<{ declared: z.infer<Declared>; state: State } | null>;
  /** Declared inputs in the order the input hash is taken in: equal inputs hash equal whatever their order. */
  normalizeDeclared(declared: z.infer<Declared>): z.infer<Declared>;
  /** Declared inputs in the order the lock file stores them. */
  canonicalDeclared(declared: z.infer<Declared>): z.infer<Declared>;
  /** The interpreter the base-image probe must look at, if this wing needs one. */
  probeInterpreter?(declared: z.infer<Declared>): string;
  /** True when resolving needs the base image present in the engine (it runs a container of it). */
  needsImage?(declared: z.infer<Declared>): boolean;
  /**
   * Beyond "same declared inputs on the same base", may the previous section be kept? (The planner has
   * already checked those and that no full upgrade was asked for.)
   */
  keepable?(declared: z.infer<Declared>, ctx: PlanContext<z.infer<Section>>): boolean;
  /** Checks that can fail even when the previous section is kept (the base changed under it, ...). */
  check?(declared: z.infer<Declared>, ground: Ground): void;
  /** Declared inputs → lock section (null: nothing to install). */
  resolve(declared: z.infer<Declared>, state: State, ctx: ResolveContext<z.infer<Section>>): Promise<z.infer<Section> | null>;
  /**
   * True when the section uses something lock format 1 cannot say (Python: wheels required by URL), so the lock
   * is written as version 2 (or later) and an older envseal says "upgrade envseal" instead of a schema error.
   */
  needsLockVersion2?(section: z.infer<Section>): boolean;
  /** True when the section uses something only lock format 4 can say (Python: sdists built into wheels at lock time). */
  needsLockVersion4?(section: z.infer<Section>): boolean;
  /** Lists in canonical order, so the same environment always gives the same bytes. */
  canonicalize(section: z.infer<Section>): z.infer<Section>;
  /** The part of the section the environment fingerprint covers. */
  fingerprint(section: z.infer<Section>): unknown;
  /** Its Dockerfile blocks. */
  render(section: z.infer<Section>, ctx: RenderContext): DockerfileSection;
  /** Checking an image's contents against the section, when the wing can. */
  contents?: ContentsCheck<z.infer<Section>>;
  /** Packages this section pins for an image of `target` (installed by the build or already in the base). */
  count(section: z.infer<Section>, target: TargetName): number;
  /**
   * What this section pins for an image of `target`, as name → version (or `sha256:…` where there is no
   * version): the summary a run record keeps and `envseal diff` compares, without the lock at hand.
   */
  pins(section: z.infer<Section>, target: TargetName): Record<string, string>;
  /** What changed between two declared inputs (either may be absent). */
  drift(before: z.infer<Declared> | null, after: z.infer<Declared> | null, specFile: string): DriftEntry[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEcosystem = Ecosystem<string, z.ZodType, z.ZodType | null, z.ZodType, z.ZodType, any>;

/** Identity with inference: `export const pythonWing = defineEcosystem({ ... })` keeps every type precise. */
export function defineEcosystem<
  Id extends string,
  Spec extends z.ZodType,
  DevSpec extends z.ZodType | null,
  Declared extends z.ZodType,
  Section extends z.ZodType,
  State,
>(wing: Ecosystem<Id, Spec, DevSpec, Declared, Section, State>): Ecosystem<Id, Spec, DevSpec, Declared, Section, State> {
  return wing;
}
