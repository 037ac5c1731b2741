/** The Slack click builder lives beside the CLI that uses it too (lib/slack/interaction.ts). */
export * from '../../lib/slack/interaction.js';
