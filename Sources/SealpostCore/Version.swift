/// The one version string of this build: `--version` of both binaries, the node's `status`
/// and its federation summary all print it.
public enum SealpostVersion {
    public static let string = "0.4.0"
}
