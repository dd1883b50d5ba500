using RlhfKit.Cli;

return await Commands.Build().Parse(args).InvokeAsync();
