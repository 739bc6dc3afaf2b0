/**
 * Wheels pinned by URL seen through the PackageIndex port: the project of such a wheel has one page, at the
 * wheel's URL (the "index" an index pin sends the project to), listing that one file, and its metadata is the
 * METADATA read when the wheel was fetched. Every other page and file goes to the real index.
 */
import type { CoreMetadataDocument, IndexProject, PackageIndex } from '../../../core/ports.js';
import type { DirectWheel } from './types.js';

export function withDirectWheels(index: PackageIndex, wheels: readonly DirectWheel[]): PackageIndex {
  const byName = new Map(wheels.map((w) => [w.name, w]));
  return {
    async getProject(url: string, project: string): Promise<IndexProject | null> {
      const wheel = byName.get(project);
      if (wheel && wheel.file.url === url) return { index: url, name: project, files: [wheel.file] };
      return index.getProject(url, project);
    },
    async getCoreMetadata(project: IndexProject, file): Promise<CoreMetadataDocument> {
      const wheel = byName.get(project.name);
      if (wheel && wheel.file.url === file.url) return { text: wheel.metadata, source: 'wheel' };
      return index.getCoreMetadata(project, file);
    },
  };
}
