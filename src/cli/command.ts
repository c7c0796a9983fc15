/** The shape of a `switchboard` subcommand, as main.ts lists them. */

export interface Command {
  /** What the user types: `switchboard <name>`. */
  name: string;
  /** One line for the command list of `switchboard help`. */
  summary: string;
  /** A typical invocation, shown under the command list. */
  example: string;
  /** The full help (`switchboard <name> --help`); its first line is the usage line. */
  help: string;
  /**
   * Runs the command with the arguments after its name. Resolves with the exit
   * status when it is done, or with nothing when it keeps running (a server).
   * Throws `UsageError` for a bad command line (exit status 2).
   */
  run(argv: string[]): Promise<number | void>;
}
