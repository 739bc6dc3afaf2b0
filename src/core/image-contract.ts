/**
 * The image contract: what envseal writes into every image it generates and what verify, run, diff and the
 * run record read back. Label names, in-image paths, target names. Everyone imports these from here, so a
 * reader of images never needs the Dockerfile renderer.
 */

export const LABEL_FINGERPRINT = 'dev.envseal.fingerprint';
export const LABEL_LOCK_DIGEST = 'dev.envseal.lock-digest';
export const LABEL_TARGET = 'dev.envseal.target';
export const LABEL_VERSION = 'dev.envseal.version';
/** Where the Dockerfile copies the lock inside the image. */
export const LOCK_PATH_IN_IMAGE = '/etc/envseal/lock.json';
/** Where `envseal generate` writes, and what build/verify compare with. */
export const DEFAULT_DOCKERFILE = 'envseal.Dockerfile';
/** The virtual environment the python section installs into. */
export const DEFAULT_VENV = '/opt/envseal/venv';
/** Build argument `envseal build` sets to the git commit; plain `docker build` leaves it empty. */
export const REVISION_ARG = 'ENVSEAL_REVISION';

/** The stages every generated Dockerfile has, in order. */
export const TARGET_NAMES = ['dev', 'deploy'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];
