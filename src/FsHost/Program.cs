using BackupFs.FsHost.Cli;

return await CommandLineApp.RunAsync(args);
