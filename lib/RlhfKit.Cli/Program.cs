using RlhfKit.Cli;

return await Commands.InvokeAsync(args);
