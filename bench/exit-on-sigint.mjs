// Preloaded with --import so that a server ended with SIGINT exits normally
// and writes its --cpu-prof profile (bench/cpu-per-message.sh).
process.on('SIGINT', () => process.exit(0));
