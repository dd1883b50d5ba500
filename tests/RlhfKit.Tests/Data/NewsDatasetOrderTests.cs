using RlhfKit.Common;
using RlhfKit.Data;

namespace RlhfKit.Tests.Data;

public sealed class NewsDatasetOrderTests
{
    [Fact]
    public void SplitMix64MatchesReferenceOutputsForSeedZero()
    {
        // Vigna's splitmix64.c seeded with 0.
        var rng = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.Next());
        Assert.Equal(0x06C45D188009454FUL, rng.Next());
    }

    [Fact]
    public void PermutationSeed0Of10IsFixed()
    {
        // Fisher–Yates on 0..9, j = r mod (i+1) with the SplitMix64(0) outputs r (no rejection happens here):
        // i=9 r=E220A8397B1DCDAF j=5 -> 0 1 2 3 4 9 6 7 8 5
        // i=8 r=6E789E6AA1B965F4 j=0 -> 8 1 2 3 4 9 6 7 0 5
        // i=7 r=06C45D188009454F j=7 -> unchanged
        // i=6 r=F88BB8A8724C81EC j=4 -> 8 1 2 3 6 9 4 7 0 5
        // i=5 r=1B39896A51A8749B j=1 -> 8 9 2 3 6 1 4 7 0 5
        // i=4 r=53CB9F0C747EA2EA j=0 -> 6 9 2 3 8 1 4 7 0 5
        // i=3 r=2C829ABE1F4532E1 j=1 -> 6 3 2 9 8 1 4 7 0 5
        // i=2 r=C584133AC916AB3C j=2 -> unchanged
        // i=1 r=3EE5789041C98AC3 j=1 -> unchanged
        int[] expected = [6, 3, 2, 9, 8, 1, 4, 7, 0, 5];
        Assert.Equal(expected, NewsDataset.Permutation(10, 0));
        Assert.Equal(expected.Select(i => $"a{i}"), DataTestFiles.Numbered(10).Shuffle(0).Select(a => a.Id));
    }

    [Fact]
    public void ShuffleSameSeedSameOrderDifferentSeedDifferentOrderNothingLost()
    {
        var ds = DataTestFiles.Numbered(100);
        var a = ds.Shuffle(1234).Select(x => x.Id).ToList();
        var b = ds.Shuffle(1234).Select(x => x.Id).ToList();
        var c = ds.Shuffle(1235).Select(x => x.Id).ToList();

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(ds.Select(x => x.Id), a);
        Assert.Equal(ds.Select(x => x.Id).Order(), a.Order());
        Assert.Equal("a0", ds[0].Id); // the source is untouched
    }

    [Fact]
    public void ShuffleNegativeSeedIsItsOwnOrder()
    {
        Assert.Equal(NewsDataset.Permutation(10, -1), NewsDataset.Permutation(10, -1));
        Assert.NotEqual(NewsDataset.Permutation(10, -1), NewsDataset.Permutation(10, 1));
    }

    [Fact]
    public void BatchesDropLastByDefault()
    {
        var ds = DataTestFiles.Numbered(10);
        Assert.Equal([[0, 1, 2, 3], [4, 5, 6, 7]], ds.Batches(4).Select(Ids));
        Assert.Equal([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], ds.Batches(4, dropLast: false).Select(Ids));
        Assert.Equal(2, ds.BatchCount(4));
        Assert.Equal(3, ds.BatchCount(4, dropLast: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Batches(0));
    }

    [Fact]
    public void EpochBatchesEachEpochIsItsSeededShuffleEpoch0IsShuffleSeed()
    {
        var ds = DataTestFiles.Numbered(10);
        var all = ds.EpochBatches(batchSize: 3, epochs: 3, seed: 7).ToList();

        Assert.Equal(9, all.Count); // 3 full batches per epoch, the 10th article dropped
        Assert.Equal([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)], all.Select(x => (x.Epoch, x.Index)));
        Assert.Equal(ds.Shuffle(7).Batches(3).Select(Ids), all.Take(3).Select(x => Ids(x.Batch)));
        var epochOrders = Enumerable.Range(0, 3).Select(e => string.Join(",", all.Where(x => x.Epoch == e).SelectMany(x => Ids(x.Batch)))).ToList();
        Assert.Equal(3, epochOrders.Distinct().Count());
        Assert.Equal(epochOrders, ds.EpochBatches(3, 3, 7).GroupBy(x => x.Epoch).Select(g => string.Join(",", g.SelectMany(x => Ids(x.Batch)))));
    }

    [Fact]
    public void EpochBatchesResumeAt12EqualsTailOfFullRun()
    {
        var ds = DataTestFiles.Numbered(23);
        var full = ds.EpochBatches(batchSize: 4, epochs: 3, seed: 42).ToList();
        var resumed = ds.EpochBatches(batchSize: 4, epochs: 3, seed: 42, startEpoch: 1, startIndex: 2).ToList();

        var skip = full.FindIndex(x => x.Epoch == 1 && x.Index == 2);
        Assert.Equal(5 + 2, skip);
        Assert.Equal(full.Count - skip, resumed.Count);
        for (var i = 0; i < resumed.Count; i++)
        {
            Assert.Equal((full[skip + i].Epoch, full[skip + i].Index), (resumed[i].Epoch, resumed[i].Index));
            Assert.Equal(Ids(full[skip + i].Batch), Ids(resumed[i].Batch));
        }
    }

    [Fact]
    public void EpochBatchesIndexPastLastBatchMovesToNextEpochTooFarIsRejected()
    {
        var ds = DataTestFiles.Numbered(8);
        var full = ds.EpochBatches(4, 2, 1).ToList();
        Assert.Equal(full.Skip(2).Select(x => Ids(x.Batch)), ds.EpochBatches(4, 2, 1, startEpoch: 0, startIndex: 2).Select(x => Ids(x.Batch)));
        Assert.Empty(ds.EpochBatches(4, 2, 1, startEpoch: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.EpochBatches(4, 2, 1, startEpoch: 0, startIndex: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.EpochBatches(4, 2, 1, startEpoch: 3));
        Assert.Throws<InvalidOperationException>(() => ds.EpochBatches(9, 1, 1));
    }

    [Fact]
    public void FilterByLengthInclusiveBoundsCountsCodePoints()
    {
        var ds = new NewsDataset([
            new NewsArticle("short", new string('a', 199)),
            new NewsArticle("min", new string('a', 200)),
            new NewsArticle("mid", new string('a', 300)),
            new NewsArticle("max", new string('a', 450)),
            new NewsArticle("long", new string('a', 451)),
            // 198 letters + one emoji (two UTF-16 units, one character in Python): 199 characters, below 200.
            new NewsArticle("emoji", new string('a', 198) + "😀"),
        ]);

        Assert.Equal(["min", "mid", "max"], ds.FilterByLength(200, 450).Select(a => a.Id));
        Assert.Equal(199, NewsDataset.CharCount(ds[5].Text));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.FilterByLength(450, 200));
    }

    [Fact]
    public void WhereAndTake()
    {
        var ds = DataTestFiles.Numbered(10);
        Assert.Equal(["a1", "a3", "a5"], ds.Where(a => int.Parse(a.Id[1..]) % 2 == 1).Take(3).Select(a => a.Id));
        Assert.Equal(10, ds.Take(50).Count);
        Assert.Empty(ds.Take(0));
    }

    static int[] Ids(IReadOnlyList<NewsArticle> batch) => batch.Select(a => int.Parse(a.Id[1..])).ToArray();
}
