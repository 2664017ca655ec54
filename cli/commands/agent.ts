// `dialpay agent ...`: an operator's agents (cli/agent.ts).
import { AGENT_USAGE, runAgentCommand } from '../agent.js';
import { EXIT_USAGE, type Command } from '../command.js';

export const agent: Command = {
  needsConfig: true,
  help: [AGENT_USAGE],
  async run({ config, positionals, values }) {
    process.exitCode = await runAgentCommand(config, positionals[1], values, EXIT_USAGE);
  },
};
