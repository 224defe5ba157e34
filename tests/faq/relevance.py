"""Realistic searches and the FAQ entry a person would expect first (by slug).

Shared by the relevance test (tests/faq/test_relevance.py) and bench/faq_relevance.py,
which reports precision at 1 and the mean reciprocal rank over the real faq/ content.
"""

QUERIES: list[tuple[str, str]] = [
    ("que es la ley REP y me afecta", "ley-rep-que-es"),
    ("productos prioritarios ley rep", "ley-rep-productos-prioritarios"),
    ("boletas de onorarios", "boleta-honorarios-quien-retiene"),
    ("cuanto me retienen en la boleta de honorarios", "boleta-honorarios-retencion"),
    ("como registro mi marca", "registrar-marca-inapi"),
    ("cuanto cuesta registrar una marca", "marca-costo-duracion-renovacion"),
    ("clases de niza", "clases-de-niza-marca"),
    ("crear empresa en un dia", "empresa-en-un-dia-como-constituir"),
    ("que es una spa", "spa-sociedad-por-acciones"),
    ("eirl o spa cual me conviene", "eirl-spa-limitada-cual-conviene"),
    ("inicio de actividades sii", "inicio-de-actividades-sii"),
    ("como emito factura electronica", "factura-electronica-como-emitir"),
    ("declarar f29 sin movimiento", "f29-plazo-declaracion-sin-movimiento"),
    ("que es el credito fiscal", "iva-debito-credito-fiscal"),
    ("termino de giro cerrar negocio", "termino-de-giro"),
    ("patente municipal cuanto cuesta", "patente-municipal-valor-pago"),
    ("contrato a plazo fijo", "contrato-plazo-fijo"),
    ("despedir a un trabajador indemnizacion", "despido-carta-aviso-indemnizacion"),
    ("cuantos dias de vacaciones", "feriado-anual-vacaciones"),
    ("horas extras", "horas-extra"),
    ("ley karin", "ley-karin-protocolo-acoso"),
    ("jornada de 40 horas", "ley-40-horas-calendario"),
    ("derecho a retracto compras por internet", "derecho-retracto-compras-en-linea"),
    ("garantia legal 3x3", "garantia-legal-seis-meses"),
    ("reclamo en el sernac", "reclamo-sernac-como-responder"),
    ("vender por internet", "vender-por-internet-primeros-pasos"),
    ("venderle al estado mercado publico", "vender-al-estado-mercado-publico"),
    ("capital semilla sercotec", "sercotec-capital-semilla-abeja-crece"),
    ("huella de carbono", "huella-de-carbono-que-es"),
    ("paneles solares", "paneles-solares-net-billing"),
    ("bolsas plasticas almacen", "ley-bolsas-plasticas-comercio"),
    ("reciclaje en mi negocio", "reciclaje-en-mi-negocio-como-empezar"),
    ("compostaje residuos organicos", "residuos-organicos-compostaje"),
    ("empresa b", "empresa-b-sistema-b"),
    ("prestamo para pyme", "fondos-publicos-para-emprender"),
    ("olvidé mi contraseña", "plataforma-olvide-contrasena"),
    ("cupos agotados lista de espera", "plataforma-cupos-agotados-lista-espera"),
    ("cómo me inscribo en un curso", "plataforma-inscribirme-curso"),
    ("no me llega el certificado", "plataforma-certificado-no-aparece"),
    ("cuánto se demora un asesor", "plataforma-cuanto-demora-asesor"),
    ("cancelar mi inscripcion", "plataforma-cancelar-inscripcion"),
    ("eliminar mi cuenta", "plataforma-descargar-mis-datos"),
    ("reabrir consulta resuelta", "plataforma-consulta-resuelta-reabrir"),
    ("que archivos puedo adjuntar", "plataforma-adjuntar-archivos"),
]


def reciprocal_rank(slugs: list[str], expected: str) -> float:
    """1 for the expected entry first, 1/2 second…, 0 when it is not in the results.
    A slug given as a prefix matches any slug that starts with it (the honorarios
    retention entry carries its year in the slug)."""
    for rank, slug in enumerate(slugs, start=1):
        if slug == expected or slug.startswith(expected + "-"):
            return 1 / rank
    return 0.0
