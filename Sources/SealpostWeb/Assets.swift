/// The UI's files (`UI/`), compiled into the binary by SwiftPM's `embedInCode`: nothing is
/// read from the disk, fetched from a CDN or served by the node.
enum Assets {
    static let indexHTML = String(decoding: PackageResources.index_html, as: UTF8.self)
    static let appJS = String(decoding: PackageResources.app_js, as: UTF8.self)
    static let appCSS = String(decoding: PackageResources.app_css, as: UTF8.self)
    static let iconSVG = String(decoding: PackageResources.icon_svg, as: UTF8.self)
}
