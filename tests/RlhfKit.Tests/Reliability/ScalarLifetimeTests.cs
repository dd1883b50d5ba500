using System.Reflection;
using System.Reflection.Emit;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using RlhfKit.Common;
using RlhfKit.Tests.Charts;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfKit.Tests.Reliability;

/// <summary>
/// The core hands numbers to torch only as Scalars that something holds (Common/Scalars.cs explains the TorchSharp 0.107
/// race this prevents). The guard reads TorchSharp's IL for the members that create a Scalar and never dispose it (directly
/// or through another such member: <c>a + b</c>, <c>x * 0.5</c>, <c>square()</c>, <c>arange(stop)</c>, ...), then compiles
/// the core's source and fails on any call to one of them and on any implicit number-to-Scalar conversion, naming the line.
/// </summary>
public sealed class ScalarLifetimeTests
{
    static string CoreDir => Path.Combine(ChartTestKit.RepoRoot, "lib", "RlhfKit");
    // Read once for both tests that walk source: scanning TorchSharp's IL and loading the references take seconds.
    static readonly Lazy<HashSet<string>> Leaky = new(() => FinalizerOnlyScalarMembers(typeof(Tensor).Assembly));
    static readonly Lazy<List<MetadataReference>> AllReferences = new(References);

    [Fact]
    public void CoreSourcesPassNumbersToTorchOnlyAsHeldScalars()
    {
        var leaky = Leaky.Value;
        // The guard itself must see the members that started this (else it would pass for the wrong reason).
        Assert.Contains("TorchSharp.torch+Tensor|op_Addition|Tensor,Tensor", leaky);
        Assert.Contains("TorchSharp.torch+Tensor|square|", leaky);
        Assert.Contains("TorchSharp.torch+Tensor|op_Multiply|Tensor,Double", leaky);

        var compilation = CompileCore();
        var findings = new List<string>();
        foreach (var tree in compilation.SyntaxTrees.Where(t => t.FilePath.Length > 0))
        {
            var model = compilation.GetSemanticModel(tree);
            // A Scalar local lives to the end of its block only with `using` (else the JIT may let it go at its last use).
            foreach (var local in tree.GetRoot().DescendantNodes().OfType<LocalDeclarationStatementSyntax>())
                if (local.UsingKeyword.IsKind(SyntaxKind.None) && model.GetTypeInfo(local.Declaration.Type).Type?.ToDisplayString() == "TorchSharp.Scalar")
                    findings.Add($"{Path.GetRelativePath(ChartTestKit.RepoRoot, tree.FilePath)}:{local.GetLocation().GetLineSpan().StartLinePosition.Line + 1}: a Scalar local without using");
            foreach (var node in tree.GetRoot().DescendantNodes().OfType<ExpressionSyntax>())
            {
                var where = $"{Path.GetRelativePath(ChartTestKit.RepoRoot, tree.FilePath)}:{node.GetLocation().GetLineSpan().StartLinePosition.Line + 1}";
                var conversion = model.GetConversion(node);
                if (conversion.IsUserDefined && conversion.MethodSymbol?.ContainingType.ToDisplayString() == "TorchSharp.Scalar")
                    findings.Add($"{where}: '{node}' becomes a Scalar nothing holds");
                if (node is InvocationExpressionSyntax or BinaryExpressionSyntax or PrefixUnaryExpressionSyntax or AssignmentExpressionSyntax
                    && model.GetSymbolInfo(node).Symbol is IMethodSymbol { ContainingAssembly.Name: "TorchSharp" } called)
                {
                    // Optimisers come from Optimizers (checked below), whose step overrides TorchSharp's.
                    if (called.Name == "step" && called.ContainingType.Name is "Optimizer" or "OptimizerHelper" or "Adam" or "AdamW") continue;
                    if (leaky.Contains(Key(called)))
                        findings.Add($"{where}: '{Short(node)}' calls {called.ContainingType.Name}.{called.Name}, which creates a Scalar only a finalizer frees");
                    if (called.ContainingType.ToDisplayString() == "TorchSharp.torch.optim")
                        findings.Add($"{where}: '{Short(node)}' makes a TorchSharp optimiser; use RlhfKit.Common.Optimizers");
                }
            }
        }
        Assert.True(findings.Count == 0, string.Join("\n", findings));
    }

    [Fact]
    public void TheGuardFindsAnUnheldNumberInSource()
    {
        // The same walk on a snippet with the two ways in: an implicit conversion and a member that makes its own Scalar.
        var leaky = Leaky.Value;
        var snippet = CSharpSyntaxTree.ParseText("using static TorchSharp.torch; static class S { static Tensor F(Tensor x) => x.clamp_min(0.5) + x * 2.0; }",
            path: "snippet.cs");
        var compilation = CSharpCompilation.Create("snippet", [snippet], AllReferences.Value, new(OutputKind.DynamicallyLinkedLibrary));
        var model = compilation.GetSemanticModel(snippet);
        var conversions = snippet.GetRoot().DescendantNodes().OfType<ExpressionSyntax>()
            .Count(n => model.GetConversion(n) is { IsUserDefined: true } c && c.MethodSymbol?.ContainingType.Name == "Scalar");
        var calls = snippet.GetRoot().DescendantNodes().OfType<BinaryExpressionSyntax>()
            .Select(n => model.GetSymbolInfo(n).Symbol).OfType<IMethodSymbol>().Count(m => leaky.Contains(Key(m)));
        Assert.Equal(1, conversions); // 0.5 for clamp_min
        Assert.Equal(2, calls);       // + (alpha 1) and * 2.0
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheKitsAdamAndAdamWStepExactlyAsTorchSharpsDo(bool decoupled)
    {
        using var scope = NewDisposeScope();
        var (ours, theirs) = (Layer(), Layer());
        using var oursOpt = decoupled ? (TorchSharp.Modules.OptimizerHelper)Optimizers.AdamW(ours.parameters(), lr: 3e-3, weight_decay: 0.05) : Optimizers.Adam(ours.parameters(), lr: 3e-3, weight_decay: 0.01);
        using var theirsOpt = decoupled ? (TorchSharp.Modules.OptimizerHelper)optim.AdamW(theirs.parameters(), lr: 3e-3, weight_decay: 0.05) : optim.Adam(theirs.parameters(), lr: 3e-3, weight_decay: 0.01);
        var input = randn(new long[] { 8, 6 }, generator: new Generator(7));
        for (int step = 0; step < 5; step++)
            foreach (var (model, optimizer) in new[] { (ours, oursOpt), (theirs, theirsOpt) })
            {
                optimizer.zero_grad();
                model.forward(input).pow(3).mean().backward(); // the test may use TorchSharp's Scalars: it is not the core
                optimizer.step();
            }
        foreach (var ((name, a), (_, b)) in ours.named_parameters().Zip(theirs.named_parameters()))
            Assert.True(a.eq(b).all().item<bool>(), $"{name} differs after 5 steps ({(decoupled ? "AdamW" : "Adam")})");
        // Same state layout: the kit's optimiser state loads into TorchSharp's and back.
        var file = Path.GetTempFileName();
        try
        {
            oursOpt.save_state_dict(file);
            theirsOpt.load_state_dict(file);
        }
        finally { File.Delete(file); }
    }

    /// <summary>The kit's step writes each parameter's denominator into one buffer per dtype, kept across steps: parameters
    /// of two dtypes and several sizes (the largest not first), and one that never gets a gradient, still step to the bit
    /// as TorchSharp's own AdamW steps them.</summary>
    [Fact]
    public void TheKitsAdamWStepsParametersOfTwoDtypesAndSizesExactlyAsTorchSharpsDoes()
    {
        using var scope = NewDisposeScope();
        TorchSharp.Modules.Parameter[] Make()
        {
            var g = new Generator(11);
            return [new TorchSharp.Modules.Parameter(randn(new long[] { 3 }, generator: g)), new TorchSharp.Modules.Parameter(randn(new long[] { 5, 7 }, generator: g)),
                new TorchSharp.Modules.Parameter(randn(new long[] { 4 }, dtype: float64, generator: g)), new TorchSharp.Modules.Parameter(randn(new long[] { 2, 9 }, dtype: float64, generator: g)),
                new TorchSharp.Modules.Parameter(randn(new long[] { 50 }, generator: g))]; // never in the loss: no gradient, left alone
        }
        var (ours, theirs) = (Make(), Make());
        using var oursOpt = Optimizers.AdamW(ours, lr: 1e-2, weight_decay: 0.1);
        using var theirsOpt = optim.AdamW(theirs, lr: 1e-2, weight_decay: 0.1);
        for (int step = 0; step < 4; step++)
            foreach (var (parameters, optimizer) in new[] { (ours, (optim.Optimizer)oursOpt), (theirs, theirsOpt) })
            {
                optimizer.zero_grad();
                var loss = parameters[0].square().sum() * (step + 1) + parameters[1].sin().sum()
                    + (parameters[2].pow(3).sum() + parameters[3].cos().sum()).to_type(float32);
                loss.backward();
                optimizer.step();
            }
        for (int i = 0; i < ours.Length; i++)
            Assert.True(ours[i].eq(theirs[i]).all().item<bool>(), $"parameter {i} ({ours[i].dtype}, {string.Join("x", ours[i].shape)}) differs after 4 steps");
        Assert.Null(ours[^1].grad);
        Assert.True(ours[^1].eq(Make()[^1]).all().item<bool>(), "the parameter without a gradient moved");
    }

    static TorchSharp.Modules.Linear Layer()
    {
        var layer = nn.Linear(6, 4);
        using var noGrad = no_grad();
        var g = new Generator(3);
        layer.weight!.copy_(randn(new long[] { 4, 6 }, generator: g));
        layer.bias!.copy_(randn(new long[] { 4 }, generator: g));
        return layer;
    }

    static string Short(SyntaxNode node) => node.ToString() is var s && s.Length > 80 ? s[..80] + "..." : node.ToString();

    static string Key(IMethodSymbol m)
    {
        static string TypeName(INamedTypeSymbol t) => t.ContainingType is null ? $"{t.ContainingNamespace.ToDisplayString()}.{t.MetadataName}" : $"{TypeName(t.ContainingType)}+{t.MetadataName}";
        var original = m.OriginalDefinition;
        return $"{TypeName(original.ContainingType)}|{original.MetadataName}|{string.Join(",", original.Parameters.Select(p => p.Type.MetadataName))}";
    }

    static string Key(MethodBase m) => $"{m.DeclaringType?.FullName}|{m.Name}|{string.Join(",", m.GetParameters().Select(p => p.ParameterType.Name))}";

    /// <summary>The framework and every assembly beside the tests, except the core itself (its source is what is compiled).</summary>
    static List<MetadataReference> References()
    {
        var files = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll")).Where(f => Path.GetFileName(f) != "RlhfKit.dll");
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var references = new List<MetadataReference>();
        foreach (var file in files)
            if (seen.Add(Path.GetFileName(file)))
                try { references.Add(MetadataReference.CreateFromFile(file)); } catch (BadImageFormatException) { }
        return references;
    }

    static CSharpCompilation CompileCore()
    {
        var options = new CSharpParseOptions(LanguageVersion.Preview);
        // The project's implicit usings.
        var trees = new List<SyntaxTree> { CSharpSyntaxTree.ParseText(
            "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic; " +
            "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;", options) };
        foreach (var file in Directory.EnumerateFiles(CoreDir, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(CoreDir, file);
            if (relative.StartsWith("obj" + Path.DirectorySeparatorChar) || relative.StartsWith("bin" + Path.DirectorySeparatorChar)) continue;
            trees.Add(CSharpSyntaxTree.ParseText(File.ReadAllText(file), options, file));
        }
        var compilation = CSharpCompilation.Create("RlhfKit", trees, AllReferences.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
        // Only the regex source generator's partial methods are missing without the generators; anything else means the
        // walk above would not see what it needs.
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").ToList();
        Assert.True(errors.Count == 0, "the core did not compile for the check:\n" + string.Join("\n", errors.Take(10)));
        return compilation;
    }

    /// <summary>TorchSharp members whose body creates a Scalar (an implicit conversion or ToScalar) and does not dispose
    /// it, and every member that calls one of those: the number lives only as long as the finalizer lets it.</summary>
    static HashSet<string> FinalizerOnlyScalarMembers(Assembly torchSharp)
    {
        var single = new Dictionary<short, OpCode>();
        var dual = new Dictionary<short, OpCode>();
        foreach (var f in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)f.GetValue(null)!;
            if (op.Size == 1) single[op.Value] = op; else dual[(short)(op.Value & 0xff)] = op;
        }
        IEnumerable<MethodBase> Calls(MethodBase m)
        {
            byte[]? il;
            try { il = m.GetMethodBody()?.GetILAsByteArray(); } catch (Exception e) when (e is BadImageFormatException or TypeLoadException or FileNotFoundException) { yield break; }
            if (il is null) yield break;
            for (int i = 0; i < il.Length;)
            {
                OpCode op;
                if (il[i] == 0xFE) { op = dual[il[i + 1]]; i += 2; } else { op = single[il[i]]; i += 1; }
                int size = op.OperandType switch
                {
                    OperandType.InlineNone => 0,
                    OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                    OperandType.InlineVar => 2,
                    OperandType.InlineI8 or OperandType.InlineR => 8,
                    OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                    _ => 4,
                };
                if (op.OperandType == OperandType.InlineMethod)
                {
                    MethodBase? target = null;
                    try
                    {
                        target = m.Module.ResolveMethod(BitConverter.ToInt32(il, i),
                            m.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null, m.IsGenericMethod ? m.GetGenericArguments() : null);
                    }
                    catch (Exception e) when (e is ArgumentException or TypeLoadException or FileNotFoundException or BadImageFormatException) { }
                    if (target is not null) yield return target;
                }
                i += size;
            }
        }
        static bool Creates(MethodBase c) =>
            c.DeclaringType?.FullName == "TorchSharp.Scalar" && c.Name == "op_Implicit" ||
            c.DeclaringType?.FullName == "TorchSharp.ScalarExtensionMethods" && c.Name.StartsWith("To", StringComparison.Ordinal) && c.Name.EndsWith("Scalar", StringComparison.Ordinal);
        static bool Disposes(MethodBase c) => c.DeclaringType?.FullName == "TorchSharp.Scalar" && c.Name == "Dispose";

        Type[] types;
        try { types = torchSharp.GetTypes(); } catch (ReflectionTypeLoadException e) { types = e.Types.OfType<Type>().ToArray(); }
        var callers = new Dictionary<string, List<string>>();
        var leaky = new HashSet<string>();
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in types)
        {
            IEnumerable<MethodBase> members;
            try { members = type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)).ToList(); }
            catch (Exception e) when (e is TypeLoadException or FileNotFoundException) { continue; }
            foreach (var member in members)
            {
                var calls = Calls(member).ToList();
                var key = Key(member);
                foreach (var callee in calls.Where(c => c.Module == member.Module))
                {
                    var k = Key(callee);
                    if (!callers.TryGetValue(k, out var list)) callers[k] = list = [];
                    list.Add(key);
                }
                if (calls.Any(Creates) && !calls.Any(Disposes)) leaky.Add(key);
            }
        }
        var pending = new Queue<string>(leaky);
        while (pending.TryDequeue(out var k))
            foreach (var caller in callers.GetValueOrDefault(k) ?? [])
                if (leaky.Add(caller)) pending.Enqueue(caller);
        return leaky;
    }
}
