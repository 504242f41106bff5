using System.ComponentModel.DataAnnotations;

namespace EvalPlatform.Web.Jobs;

/// <summary>Settings of the background-job runtime (section <c>Jobs</c>). See ADR 16.</summary>
public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    /// <summary>
    /// Whether this node runs jobs. Off, the node schedules nothing and runs nothing (other nodes of a cluster still do);
    /// Settings → Jobs still lists the jobs and their runs.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The Quartz scheduler's name: every node of one installation uses the same one (that is what makes them one cluster on
    /// PostgreSQL); two installations sharing a database need different ones.
    /// </summary>
    [Required]
    [StringLength(100)]
    public string SchedulerName { get; set; } = "EvalPlatform";
}
