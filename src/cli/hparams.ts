/**
 * `lmedit hparams list|show|export`: the shipped presets as EasyEdit-style YAML files to start
 * from. An exported file reads back (`--hparams FILE`) as exactly the preset.
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Document } from 'yaml';
import { getMethod, METHOD_NAMES } from '../edit/registry.js';
import { closest } from '../study/spec.js';
import { choiceOption } from './options.js';

/** A preset of a method as an EasyEdit YAML document (alg_name first, then the fields in preset order). */
export async function presetYaml(methodName: string, preset: string): Promise<string> {
  const method = await getMethod(methodName);
  const hp = method.presets[preset];
  if (!hp) {
    const keys = Object.keys(method.presets);
    const near = closest(preset, keys);
    throw new Error(
      `${method.name} has no preset "${preset}"${near ? ` (did you mean "${near}"?)` : ''}; presets: ${keys.join(', ')}`,
    );
  }
  // EasyEdit names FT-L and FT-M both "FT" (objective_optimization tells them apart)
  const algName = method.name.startsWith('FT') ? 'FT' : method.name;
  const doc = new Document({ alg_name: algName, ...(hp as Record<string, unknown>) });
  doc.commentBefore = ` ${method.name} hyperparameters: lmedit preset "${preset}" (lmedit hparams export ${preset} --method ${methodName})`;
  return doc.toString({ lineWidth: 0 });
}

export function registerHParamsCommands(program: Command): void {
  const cmd = program.command('hparams').description('the shipped hyperparameter presets, as EasyEdit YAML files to start from');
  const methodOption = choiceOption('--method', METHOD_NAMES);

  cmd
    .command('list')
    .description('the preset keys of each method (or of one)')
    .option('--method <name>', `one method: ${METHOD_NAMES.join(' | ')}`, methodOption)
    .action(async (o: { method?: string }) => {
      for (const name of o.method ? [o.method] : METHOD_NAMES) {
        const m = await getMethod(name);
        console.log(`${name.padEnd(7)} ${Object.keys(m.presets).join(', ') || '(none: needs a trained archive)'}`);
      }
    });

  cmd
    .command('show')
    .description('print a preset as YAML')
    .argument('<preset>', 'preset key (lmedit hparams list)')
    .option('--method <name>', `editing method: ${METHOD_NAMES.join(' | ')}`, methodOption, 'rome')
    .action(async (preset: string, o: { method: string }) => {
      process.stdout.write(await presetYaml(o.method, preset));
    });

  cmd
    .command('export')
    .description('write a preset as a YAML file for --hparams')
    .argument('<preset>', 'preset key (lmedit hparams list)')
    .option('--method <name>', `editing method: ${METHOD_NAMES.join(' | ')}`, methodOption, 'rome')
    .requiredOption('--out <file.yaml>', 'where to write it')
    .option('--overwrite', 'replace an existing file')
    .action(async (preset: string, o: { method: string; out: string; overwrite?: boolean }) => {
      if (existsSync(o.out) && !o.overwrite) throw new Error(`--out ${o.out}: it exists; pass --overwrite to replace it`);
      writeFileSync(o.out, await presetYaml(o.method, preset));
      console.error(`wrote ${o.method} preset "${preset}" to ${o.out}; use it with --hparams ${o.out}`);
    });
}
